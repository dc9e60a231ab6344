// history.js — the "History" view: filters (model, label, subject, date
// from/to) mapped onto GET /v1/predictions, a paginated table, a detail
// dialog (GET /v1/predictions/{id} with its feedback, shown as a result
// card) and the CSV export (GET /v1/predictions.csv fetched with the Bearer
// header, handed to the browser as a download).
import {
    api, clear, confidenceClass, download, errorText, fmtTime, h, meter, modelDetail, modelList,
    notice, pct, reportHref, toast,
} from "./core.js";
import { resultCard } from "./analyze.js";

const PAGE_SIZES = [10, 25, 50, 100];

const filters = { model: "", label: "", subject: "", from: "", to: "" };
let page = { skip: 0, limit: 25 };

async function allLabels(models) {
    const labels = new Set();
    const details = await Promise.allSettled(models.map((m) => modelDetail(m.name)));
    for (const d of details) if (d.status === "fulfilled") (d.value.labels || []).forEach((l) => labels.add(l));
    return [...labels].sort();
}

export async function openPrediction(id) {
    const body = h("div", { class: "dialog-body" }, h("p", { class: "muted" }, "Loading #" + id + "…"));
    const dlg = h("dialog", { class: "dialog", "aria-label": "Prediction #" + id },
        h("div", { class: "dialog-head" }, h("h2", null, "Prediction #" + id),
            h("button", { type: "button", class: "btn btn-small dialog-close", onclick: () => dlg.close() }, "Close")),
        body);
    dlg.addEventListener("close", () => dlg.remove());
    dlg.addEventListener("click", (e) => {
        if (e.target === dlg) dlg.close();
    });
    document.body.append(dlg);
    dlg.showModal();
    try {
        const p = await api("GET", "/v1/predictions/" + id);
        clear(body, resultCard(p), feedbackTable(p.feedback || []));
    } catch (e) {
        clear(body, notice("error", "Cannot load #" + id + ": " + errorText(e)));
    }
}

export function feedbackTable(fb) {
    if (!fb.length) return h("p", { class: "muted small" }, "No feedback yet.");
    return h("table", { class: "table compact" },
        h("thead", null, h("tr", null, ["Reviewer", "Verdict", "Correct label", "Note", "When"].map((t) => h("th", null, t)))),
        h("tbody", null, fb.map((f) => h("tr", null,
            h("td", null, f.user),
            h("td", null, h("span", { class: "pill " + (f.correct ? "pill-ok" : "pill-bad") }, f.correct ? "correct" : "incorrect")),
            h("td", null, f.label || "–"),
            h("td", null, f.note || "–"),
            h("td", null, fmtTime(f.updated_at || f.created_at))))));
}

function table(items, onOpen) {
    if (!items.length) return notice("info", "No prediction matches these filters.");
    const rows = items.map((p) => {
        const tr = h("tr", { class: "clickable", tabindex: "0", "data-pred-id": String(p.id) },
            h("td", { class: "num" }, "#" + p.id),
            h("td", null, fmtTime(p.created_at)),
            h("td", null, p.subject ? h("a", { href: reportHref(p.subject), onclick: (e) => e.stopPropagation() }, p.subject) : "–"),
            h("td", null, p.model),
            h("td", null, h("span", { class: "label-chip" }, p.label)),
            h("td", { class: "conf-cell" }, meter(p.confidence, "meter-thin " + confidenceClass(p.confidence)),
                h("span", { class: "num" }, pct(p.confidence))),
            h("td", { class: "hide-narrow" }, p.user || "–"),
            h("td", { class: "hide-narrow ellipsis", title: p.filename || "" }, p.filename || "–"));
        tr.addEventListener("click", () => onOpen(p.id));
        tr.addEventListener("keydown", (e) => {
            if (e.key === "Enter") onOpen(p.id);
        });
        return tr;
    });
    return h("div", { class: "table-wrap" },
        h("table", { class: "table", id: "history-table" },
            h("thead", null, h("tr", null,
                h("th", null, "ID"), h("th", null, "Date"), h("th", null, "Subject"), h("th", null, "Model"),
                h("th", null, "Label"), h("th", null, "Confidence"), h("th", { class: "hide-narrow" }, "User"),
                h("th", { class: "hide-narrow" }, "File"))),
            h("tbody", null, rows)));
}

function pager(total, onPage) {
    const first = total ? page.skip + 1 : 0;
    const last = Math.min(total, page.skip + page.limit);
    const prev = h("button", { type: "button", class: "btn btn-small", disabled: page.skip === 0 }, "‹ Previous");
    const next = h("button", { type: "button", class: "btn btn-small", disabled: last >= total }, "Next ›");
    prev.addEventListener("click", () => onPage(Math.max(0, page.skip - page.limit)));
    next.addEventListener("click", () => onPage(page.skip + page.limit));
    const size = h("select", { "aria-label": "Rows per page" }, PAGE_SIZES.map((n) => h("option", { value: String(n), selected: n === page.limit }, n + " per page")));
    size.addEventListener("change", () => {
        page.limit = Number(size.value);
        onPage(0);
    });
    return h("div", { class: "pager" },
        h("span", { class: "muted", id: "history-count" }, total ? "Showing " + first + "–" + last + " of " + total : "No rows"),
        h("div", { class: "row-gap" }, size, prev, next));
}

function query() {
    const q = {};
    for (const [k, v] of Object.entries(filters)) if (v) q[k] = v;
    return q;
}

export async function renderHistory(root) {
    const msg = h("div", { class: "msgs" });
    const out = h("div", { class: "history-out" });
    const modelSel = h("select", { id: "f-model" }, h("option", { value: "" }, "All models"));
    const labelSel = h("select", { id: "f-label" }, h("option", { value: "" }, "All labels"));
    const subject = h("input", { id: "f-subject", type: "text", value: filters.subject, placeholder: "Exact id", autocomplete: "off" });
    const from = h("input", { id: "f-from", type: "date", value: filters.from });
    const to = h("input", { id: "f-to", type: "date", value: filters.to });
    const field = (id, label, input) => h("div", { class: "field" }, h("label", { for: id }, label), input);
    const exportBtn = h("button", { type: "button", class: "btn", id: "export-csv" }, "Export CSV");
    const reportBtn = h("a", { class: "btn", id: "open-report", hidden: !filters.subject, href: filters.subject ? reportHref(filters.subject) : "#" }, "Subject report");
    const fform = h("form", { class: "card panel filters" },
        h("div", { class: "form-grid filters-grid" },
            field("f-model", "Model", modelSel), field("f-label", "Label", labelSel),
            field("f-subject", "Subject", subject), field("f-from", "From", from), field("f-to", "To", to)),
        h("div", { class: "row-gap" },
            h("button", { type: "submit", class: "btn btn-primary" }, "Apply filters"),
            h("button", { type: "button", class: "btn", onclick: reset }, "Reset"),
            h("span", { class: "spacer" }), reportBtn, exportBtn));
    clear(root,
        h("div", { class: "view-head" }, h("h1", null, "History"),
            h("p", { class: "muted" }, "Every stored prediction, newest first. Click a row for the image, heatmap and feedback.")),
        fform, msg, out);

    async function load() {
        clear(msg);
        out.setAttribute("aria-busy", "true");
        try {
            const res = await api("GET", "/v1/predictions", { query: { ...query(), skip: page.skip, limit: page.limit } });
            if (res.items.length === 0 && page.skip > 0 && res.total > 0) {
                page.skip = Math.max(0, Math.floor((res.total - 1) / page.limit) * page.limit);
                return load();
            }
            clear(out, h("div", { class: "card table-card" }, table(res.items, openPrediction),
                pager(res.total, (skip) => {
                    page.skip = skip;
                    load();
                })));
        } catch (e) {
            clear(out);
            msg.append(notice("error", "Cannot load the history: " + errorText(e)));
        } finally {
            out.removeAttribute("aria-busy");
        }
    }
    function readForm() {
        Object.assign(filters, {
            model: modelSel.value, label: labelSel.value, subject: subject.value.trim(), from: from.value, to: to.value,
        });
        reportBtn.hidden = !filters.subject;
        reportBtn.href = filters.subject ? reportHref(filters.subject) : "#";
    }
    function reset() {
        modelSel.value = labelSel.value = subject.value = from.value = to.value = "";
        readForm();
        page.skip = 0;
        load();
    }
    fform.addEventListener("submit", (e) => {
        e.preventDefault();
        readForm();
        if (filters.from && filters.to && filters.from > filters.to) {
            clear(msg, notice("error", "“From” is after “To”."));
            return;
        }
        page.skip = 0;
        load();
    });
    exportBtn.addEventListener("click", async () => {
        readForm();
        exportBtn.disabled = true;
        try {
            const stamp = new Date().toISOString().slice(0, 10);
            await download("/v1/predictions.csv", query(), "scanlite-history-" + stamp + ".csv");
            toast("CSV exported", "ok");
        } catch (e) {
            clear(msg, notice("error", "CSV export failed: " + errorText(e)));
        } finally {
            exportBtn.disabled = false;
        }
    });

    load();
    try {
        const models = (await modelList()).models || [];
        models.forEach((m) => modelSel.append(h("option", { value: m.name }, m.name)));
        (await allLabels(models)).forEach((l) => labelSel.append(h("option", { value: l }, l)));
        modelSel.value = filters.model;
        labelSel.value = filters.label;
    } catch (e) {
        msg.append(notice("error", "Cannot load the model list: " + errorText(e)));
    }
}
