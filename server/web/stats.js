// stats.js — the "Statistics" view: totals, and charts drawn here as
// inline SVG from GET /v1/stats (no chart library, nothing from the net):
// predictions per label and per model (horizontal bars), per day over the
// last 30 days (columns with a value axis) and the feedback agreement
// (a ring: marked correct vs incorrect).
import { api, clear, errorText, h, notice, pct, svg } from "./core.js";

const PALETTE = ["#1f6feb", "#0f9d8a", "#d97706", "#8b5cf6", "#dc2626", "#0891b2", "#65a30d", "#db2777"];

// Round axis maximum with ~4 ticks.
function niceMax(v) {
    if (v <= 4) return 4;
    const step = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * step * 4 >= v) return m * step * 4;
    return v;
}

function hbars(entries, id, W) {
    if (!entries.length) return h("p", { class: "muted" }, "No data yet.");
    const rowH = 30, labelW = Math.min(140, W * 0.35), barW = Math.max(20, W - labelW - 44);
    const max = Math.max(...entries.map((e) => e[1]), 1);
    const g = entries.map(([k, v], i) => {
        const y = i * rowH;
        const w = Math.max(2, (v / max) * barW);
        return svg("g", { class: "hbar", "data-key": k, "data-value": String(v) },
            svg("text", { x: labelW - 8, y: y + 19, "text-anchor": "end", class: "ax-label" }, k.length > 18 ? k.slice(0, 17) + "…" : k),
            svg("rect", { x: labelW, y: y + 7, width: w, height: rowH - 14, rx: 3, fill: PALETTE[i % PALETTE.length] }),
            svg("text", { x: labelW + w + 6, y: y + 19, class: "ax-value" }, String(v)),
            svg("title", { text: k + ": " + v }));
    });
    const H = entries.length * rowH;
    return svg("svg", { id, class: "chart", width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": "bar chart" }, g);
}

function columns(days, id, W) {
    const H = 240, L = 36, B = 28, T = 10;
    const n = days.length || 1;
    const max = niceMax(Math.max(...days.map((d) => d.count), 0));
    const cw = (W - L) / n;
    const y = (v) => T + (H - T - B) * (1 - v / max);
    const grid = [0, 0.25, 0.5, 0.75, 1].map((f) => {
        const v = Math.round(max * f);
        return svg("g", null,
            svg("line", { x1: L, x2: W, y1: y(v), y2: y(v), class: "grid" }),
            svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", class: "ax-label" }, String(v)));
    });
    const bars = days.map((d, i) => {
        const x = L + i * cw;
        const top = y(d.count);
        const parts = [svg("title", { text: d.day + ": " + d.count })];
        if (d.count > 0)
            parts.push(svg("rect", { x: x + cw * 0.15, y: top, width: cw * 0.7, height: H - B - top, rx: 2, class: "col" }));
        const every = cw >= 48 ? 1 : cw >= 18 ? 3 : 5;
        if ((n - 1 - i) % every === 0)
            parts.push(svg("text", { x: x + cw / 2, y: H - 8, "text-anchor": "middle", class: "ax-label" }, d.day.slice(5)));
        return svg("g", { class: "colbar", "data-day": d.day, "data-value": String(d.count) }, parts);
    });
    return svg("svg", { id, class: "chart", width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": "predictions per day" },
        grid, svg("line", { x1: L, x2: W, y1: H - B, y2: H - B, class: "axis" }), bars);
}

function ring(correct, total, id) {
    const R = 54, C = 2 * Math.PI * R;
    const frac = total ? correct / total : 0;
    const parts = [svg("circle", { cx: 70, cy: 70, r: R, class: "ring-bg" })];
    if (total)
        parts.push(svg("circle", {
            cx: 70, cy: 70, r: R, class: "ring-fg", "stroke-dasharray": C * frac + " " + C,
            transform: "rotate(-90 70 70)",
        }));
    parts.push(svg("text", { x: 70, y: 68, "text-anchor": "middle", class: "ring-value" }, total ? pct(frac, 0) : "–"),
        svg("text", { x: 70, y: 88, "text-anchor": "middle", class: "ax-label" }, "agreement"));
    const legend = h("ul", { class: "legend" },
        h("li", null, h("span", { class: "swatch swatch-ok" }), "Correct: " + correct),
        h("li", null, h("span", { class: "swatch swatch-bad" }), "Incorrect: " + (total - correct)),
        h("li", { class: "muted" }, total ? total + " reviews" : "No feedback yet"));
    return h("div", { class: "ring-wrap" },
        svg("svg", { id, class: "chart ring", viewBox: "0 0 140 140", role: "img", "aria-label": "feedback agreement" }, parts), legend);
}

// A chart drawn at the pixel width of its box (1 SVG unit = 1 px, so text
// keeps its size), redrawn when the box changes width.
function fitted(draw) {
    const box = h("div", { class: "chart-box" });
    let last = 0;
    const render = () => {
        const w = Math.floor(box.clientWidth);
        if (w > 0 && w !== last) {
            last = w;
            clear(box, draw(w));
        }
    };
    new ResizeObserver(render).observe(box);
    return box;
}

function tile(label, value, id, sub) {
    return h("div", { class: "card tile" }, h("span", { class: "tile-label" }, label),
        h("span", { class: "tile-value", id }, value), sub ? h("span", { class: "muted small" }, sub) : null);
}

const byCount = (obj) => Object.entries(obj || {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));

export async function renderStats(root) {
    const msg = h("div", { class: "msgs" });
    const out = h("div", { class: "stats-out" });
    const refresh = h("button", { type: "button", class: "btn", id: "stats-refresh" }, "Refresh");
    clear(root, h("div", { class: "view-head row-between" },
        h("div", null, h("h1", null, "Statistics"), h("p", { class: "muted" }, "All stored predictions and the reviewers' feedback.")),
        refresh), msg, out);
    async function load() {
        clear(msg);
        let s;
        try {
            s = await api("GET", "/v1/stats");
        } catch (e) {
            msg.append(notice("error", "Cannot load the statistics: " + errorText(e)));
            return;
        }
        const days = s.per_day || [];
        const last7 = days.slice(-7).reduce((a, d) => a + d.count, 0);
        const rate = s.agreement_rate;
        clear(out,
            h("div", { class: "tiles" },
                tile("Predictions", String(s.total_predictions || 0), "stat-total", last7 + " in the last 7 days"),
                tile("Feedback", String(s.feedback_count || 0), "stat-feedback", (s.feedback_correct || 0) + " marked correct"),
                tile("Agreement", rate === null || rate === undefined ? "–" : pct(rate), "stat-agreement", "of reviewed results"),
                tile("Models used", String(Object.keys(s.per_model || {}).length), "stat-models")),
            h("div", { class: "chart-grid" },
                h("section", { class: "card chart-card wide" }, h("h2", null, "Predictions per day (last 30 days)"), fitted((w) => columns(days, "chart-days", w))),
                h("section", { class: "card chart-card" }, h("h2", null, "Per label"), fitted((w) => hbars(byCount(s.per_label), "chart-labels", w))),
                h("section", { class: "card chart-card" }, h("h2", null, "Feedback agreement"),
                    ring(s.feedback_correct || 0, s.feedback_count || 0, "chart-agreement")),
                h("section", { class: "card chart-card" }, h("h2", null, "Per model"), fitted((w) => hbars(byCount(s.per_model), "chart-models", w)))));
    }
    refresh.addEventListener("click", load);
    await load();
}
