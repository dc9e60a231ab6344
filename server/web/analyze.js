// analyze.js — the "Analyze" view: model picker, subject/note fields, drop
// zone and file picker (several images at once, one request per file so
// each has its own progress bar and its own error), and the result card
// used here and in the history: original image, Grad-CAM overlay toggle
// (when the answer has heatmap_url), label, confidence bar, top-k list and
// the feedback buttons (POST /v1/predictions/{id}/feedback).
import {
    api, authImg, clear, confidenceClass, errorText, fmtTime, h, hasRole, meter, modelDetail,
    modelList, notice, pct, reportHref, session, shortHash, toast, upload,
} from "./core.js";

const MAX_FILES = 64; // the server takes at most 64 files per request; keep a batch humane

const form = { model: "", subject: "", note: "", explain: true, explainable: true };

/* ---- result card -------------------------------------------------------- */

function figure(pred) {
    const orig = authImg(pred.image_url, "Uploaded image #" + pred.id, "fig-orig");
    const fig = h("div", { class: "figure" }, orig);
    if (!pred.heatmap_url) {
        fig.append(h("span", { class: "fig-tag" }, "Original"));
        return fig;
    }
    const heat = authImg(pred.heatmap_url, "Grad-CAM heatmap of #" + pred.id, "fig-heat");
    const tag = h("span", { class: "fig-tag" }, "Heatmap");
    const btn = h("button", { type: "button", class: "btn btn-small fig-toggle", "aria-pressed": "true" }, "Heatmap on");
    btn.addEventListener("click", () => {
        const on = btn.getAttribute("aria-pressed") !== "true";
        btn.setAttribute("aria-pressed", String(on));
        btn.textContent = on ? "Heatmap on" : "Heatmap off";
        heat.hidden = !on;
        tag.textContent = on ? "Heatmap" : "Original";
    });
    fig.append(heat, tag, btn);
    return fig;
}

function topkList(pred) {
    const items = (pred.top_k || []).map((t) =>
        h("li", { class: t.label === pred.label ? "top" : "" },
            h("span", { class: "topk-label" }, t.label),
            meter(t.p, "meter-thin"),
            h("span", { class: "topk-p" }, pct(t.p))));
    return h("ol", { class: "topk", "aria-label": "Top results" }, items);
}

function metaList(pred) {
    const row = (k, v) => [h("dt", null, k), h("dd", null, v)];
    const subject = pred.subject
        ? h("a", { href: reportHref(pred.subject), title: "Open the report of this subject" }, pred.subject)
        : "–";
    const t = pred.timings_ms || {};
    const ms = t.total !== undefined ? t.total : (t.decode || 0) + (t.infer || 0);
    return h("dl", { class: "meta" },
        row("Subject", subject),
        row("File", pred.filename || "–"),
        row("Model", pred.model + " · " + shortHash(pred.model_sha256)),
        row("When", fmtTime(pred.created_at) + (pred.user ? " · " + pred.user : "")),
        pred.note ? row("Note", pred.note) : null,
        row("Time", ms > 0 ? (ms < 10 ? ms.toFixed(1) : ms.toFixed(0)) + " ms" : "–"));
}

function feedbackSummary(fb) {
    if (!fb) return "No feedback from you yet.";
    let s = fb.correct ? "You marked this result correct" : "You marked this result incorrect";
    if (!fb.correct && fb.label) s += " — should be “" + fb.label + "”";
    if (fb.note) s += " · " + fb.note;
    return s + ".";
}

// Feedback box; mine is this user's earlier feedback or null.
function feedbackBox(pred, mine) {
    const box = h("div", { class: "feedback" });
    const status = h("p", { class: "feedback-status" }, feedbackSummary(mine));
    const msg = h("div", { class: "feedback-msg" });
    if (!hasRole("clinician")) {
        box.append(status, h("p", { class: "muted small" }, "Your role (" + session.user.role + ") cannot give feedback."));
        return box;
    }
    const labelSel = h("select", { class: "fb-label", "aria-label": "Correct label" },
        h("option", { value: "" }, "Correct label: not specified"));
    modelDetail(pred.model).then(
        (m) => (m.labels || []).filter((l) => l !== pred.label)
            .forEach((l) => labelSel.append(h("option", { value: l }, l))),
        () => {},
    );
    const noteIn = h("input", { class: "fb-note", type: "text", maxlength: "2000", placeholder: "Note (optional)", "aria-label": "Feedback note" });
    const wrongForm = h("form", { class: "feedback-form", hidden: true }, labelSel, noteIn,
        h("div", { class: "row-gap" },
            h("button", { type: "submit", class: "btn btn-primary btn-small fb-send" }, "Send"),
            h("button", { type: "button", class: "btn btn-small", onclick: () => (wrongForm.hidden = true) }, "Cancel")));

    async function send(body, button) {
        clear(msg);
        button.disabled = true;
        try {
            const res = await api("POST", "/v1/predictions/" + pred.id + "/feedback", { json: body });
            const me = (res.feedback || []).find((f) => f.user === session.user.name) || body;
            status.textContent = feedbackSummary(me);
            box.dataset.feedback = me.correct ? "correct" : "incorrect";
            wrongForm.hidden = true;
            toast("Feedback saved for #" + pred.id, "ok");
        } catch (e) {
            msg.append(notice("error", "Feedback not saved: " + errorText(e)));
        } finally {
            button.disabled = false;
        }
    }
    const okBtn = h("button", { type: "button", class: "btn btn-ok btn-small fb-correct" }, "✓ Correct");
    const badBtn = h("button", { type: "button", class: "btn btn-bad btn-small fb-incorrect" }, "✗ Incorrect");
    okBtn.addEventListener("click", () => send({ correct: true }, okBtn));
    badBtn.addEventListener("click", () => {
        wrongForm.hidden = false;
        labelSel.focus();
    });
    wrongForm.addEventListener("submit", (e) => {
        e.preventDefault();
        const body = { correct: false };
        if (labelSel.value) body.label = labelSel.value;
        if (noteIn.value.trim()) body.note = noteIn.value.trim();
        send(body, wrongForm.querySelector(".fb-send"));
    });
    if (mine) box.dataset.feedback = mine.correct ? "correct" : "incorrect";
    box.append(h("span", { class: "feedback-q" }, "Is this result right?"),
        h("div", { class: "feedback-buttons" }, okBtn, badBtn), wrongForm, status, msg);
    return box;
}

// One prediction as a card; pred may carry feedback[] (GET /v1/predictions/{id}).
export function resultCard(pred) {
    const mine = (pred.feedback || []).find((f) => session.user && f.user === session.user.name) || null;
    return h("article", { class: "card result", "data-pred-id": String(pred.id) },
        figure(pred),
        h("div", { class: "result-body" },
            h("div", { class: "result-head" },
                h("span", { class: "result-label" }, pred.label),
                h("span", { class: "result-conf " + confidenceClass(pred.confidence) }, pct(pred.confidence)),
                h("span", { class: "result-id muted" }, "#" + pred.id)),
            meter(pred.confidence, "meter-main " + confidenceClass(pred.confidence)),
            topkList(pred),
            metaList(pred),
            feedbackBox(pred, mine)));
}

/* ---- upload ------------------------------------------------------------- */

function queueRow(file) {
    const bar = h("progress", { max: "100", value: "0" });
    const state = h("span", { class: "q-state" }, "Waiting");
    const row = h("li", { class: "q-row" }, h("span", { class: "q-name", title: file.name }, file.name), bar, state);
    return { row, bar, state };
}

async function runUploads(files, queueEl, resultsEl, msgEl) {
    if (!form.model) {
        msgEl.append(notice("error", "Choose a model first."));
        return;
    }
    const images = files.filter((f) => !f.type || f.type.startsWith("image/") || /\.(png|jpe?g|bmp|gif)$/i.test(f.name));
    if (images.length < files.length)
        msgEl.append(notice("error", files.length - images.length + " file(s) skipped: not images."));
    if (images.length > MAX_FILES) {
        msgEl.append(notice("error", "At most " + MAX_FILES + " images at once; the first " + MAX_FILES + " are sent."));
        images.length = MAX_FILES;
    }
    const rows = images.map((f) => {
        const q = queueRow(f);
        queueEl.prepend(q.row);
        return q;
    });
    let ok = 0;
    for (let i = 0; i < images.length; i++) {
        const q = rows[i];
        const fd = new FormData();
        fd.append("file", images[i], images[i].name);
        if (form.subject) fd.append("subject", form.subject);
        if (form.note) fd.append("note", form.note);
        const path = "/v1/models/" + encodeURIComponent(form.model) + "/predict" + (form.explain && form.explainable ? "?explain=1" : "");
        q.state.textContent = "Uploading";
        q.row.dataset.state = "uploading";
        try {
            const res = await upload(path, fd, (f, phase) => {
                q.bar.value = Math.round(f * 100);
                if (phase === "analyze") {
                    q.state.textContent = "Analyzing…";
                    q.bar.removeAttribute("value");
                }
            });
            const items = res.items || [res];
            q.bar.value = 100;
            q.state.textContent = "Done · " + items.map((p) => p.label + " " + pct(p.confidence, 0)).join(", ");
            q.row.dataset.state = "done";
            for (const p of items) resultsEl.prepend(resultCard(p));
            ok++;
        } catch (e) {
            q.bar.value = 0;
            q.state.textContent = "Failed: " + errorText(e);
            q.row.dataset.state = "failed";
            if (e.status === 401) return;
        }
    }
    if (images.length > 1) toast(ok + " of " + images.length + " images analysed", ok === images.length ? "ok" : "error");
}

export async function renderAnalyze(root) {
    const msg = h("div", { class: "msgs" });
    const queue = h("ul", { class: "queue", "aria-live": "polite" });
    const results = h("div", { class: "results", id: "results" });
    const modelSel = h("select", { id: "model", name: "model", required: true });
    const modelInfo = h("p", { class: "muted small", id: "model-info" });
    clear(root,
        h("div", { class: "view-head" }, h("h1", null, "Analyze images"),
            h("p", { class: "muted" }, "Drop radiographs or photos; each one is classified by the chosen model and stored in the history.")),
        msg);
    if (!hasRole("clinician")) {
        root.append(notice("info", "Your role (" + session.user.role + ") may view results but not analyse new images. See the History tab."));
        return;
    }
    let models;
    try {
        models = await modelList();
    } catch (e) {
        msg.append(notice("error", "Cannot load the models: " + errorText(e)));
        return;
    }
    if (!models.models || !models.models.length) {
        msg.append(notice("error", "The server has no model loaded."));
        return;
    }
    for (const m of models.models) modelSel.append(h("option", { value: m.name }, m.name));
    if (!form.model || !models.models.some((m) => m.name === form.model)) form.model = models.default || models.models[0].name;
    modelSel.value = form.model;
    const explain = h("input", { id: "explain", type: "checkbox", checked: form.explain });
    explain.addEventListener("change", () => (form.explain = explain.checked));
    const showInfo = () => {
        const m = models.models.find((x) => x.name === form.model);
        if (!m) return;
        /* Models without a convolutional feature map cannot be explained:
         * the server would answer 422 not_explainable. */
        form.explainable = m.explainable !== false;
        explain.disabled = !form.explainable;
        explain.checked = form.explainable && form.explain;
        const shape = (m.input_shape || []).join("×");
        modelInfo.textContent = m.num_labels + " labels · input " + shape + " · " +
            (m.parameters || 0).toLocaleString() + " parameters · SHA-256 " + shortHash(m.sha256);
        modelDetail(m.name).then((d) => {
            if (form.model === m.name && d.labels) modelInfo.textContent += " · labels: " + d.labels.join(", ");
        }, () => {});
    };
    modelSel.addEventListener("change", () => {
        form.model = modelSel.value;
        showInfo();
    });
    showInfo();

    const subject = h("input", { id: "subject", type: "text", maxlength: "128", placeholder: "e.g. case-0042", value: form.subject, autocomplete: "off" });
    subject.addEventListener("input", () => (form.subject = subject.value.trim()));
    const note = h("input", { id: "note", type: "text", maxlength: "2000", placeholder: "Optional", value: form.note, autocomplete: "off" });
    note.addEventListener("input", () => (form.note = note.value.trim()));

    const picker = h("input", { id: "files", type: "file", accept: "image/*", multiple: true, class: "visually-hidden" });
    const start = (files) => {
        clear(msg);
        if (files.length) runUploads(files, queue, results, msg);
    };
    picker.addEventListener("change", () => {
        start([...picker.files]);
        picker.value = "";
    });
    const drop = h("label", { class: "dropzone", for: "files", tabindex: "0" },
        h("span", { class: "dz-icon", "aria-hidden": "true" }, "⇪"),
        h("strong", null, "Drop images here"),
        h("span", { class: "muted" }, "or click to choose files — PNG, JPEG, BMP, GIF; several at once"),
        picker);
    drop.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") {
            e.preventDefault();
            picker.click();
        }
    });
    for (const ev of ["dragenter", "dragover"])
        drop.addEventListener(ev, (e) => {
            e.preventDefault();
            drop.classList.add("over");
        });
    for (const ev of ["dragleave", "drop"])
        drop.addEventListener(ev, (e) => {
            e.preventDefault();
            drop.classList.remove("over");
        });
    drop.addEventListener("drop", (e) => start([...e.dataTransfer.files]));

    const field = (id, label, input, hint) =>
        h("div", { class: "field" }, h("label", { for: id }, label), input, hint || null);
    root.append(
        h("section", { class: "card panel" },
            h("div", { class: "form-grid" },
                field("model", "Model", modelSel),
                field("subject", "Subject (patient / case id)", subject),
                field("note", "Note", note)),
            modelInfo,
            h("label", { class: "check" }, explain, " Show where the network looked (Grad-CAM heatmap)"),
            drop,
            queue),
        results);
}
