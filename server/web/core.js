// core.js — shared plumbing of the scanlite web app: the session (token in
// sessionStorage), the JSON API client with the server's error shape
// {"error":{"code","message"}}, uploads with progress (XMLHttpRequest),
// images fetched with the Bearer header and shown through blob: URLs, the
// DOM/SVG builders, formatting helpers and the message area.
// Everything is local: no request ever leaves the scanlite server's origin.

const SESSION_KEY = "scanlite.session";

/* ---- session ------------------------------------------------------------ */

export const session = {
    token: null,
    expiresAt: null,
    user: null, // {name, role}
};

export function sessionLoad() {
    try {
        const s = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
        if (s && s.token && (!s.expiresAt || Date.parse(s.expiresAt) > Date.now())) {
            Object.assign(session, s);
            return true;
        }
    } catch (e) {
        /* a corrupt entry is the same as none */
    }
    sessionClear();
    return false;
}

export function sessionSave(login) {
    session.token = login.token;
    session.expiresAt = login.expires_at || null;
    session.user = login.user || { name: "?", role: "viewer" };
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
}

export function sessionClear() {
    session.token = null;
    session.expiresAt = null;
    session.user = null;
    sessionStorage.removeItem(SESSION_KEY);
    clearBlobs();
    modelCache.list = null;
    modelCache.detail.clear();
}

const ROLE_RANK = { viewer: 1, clinician: 2, admin: 3 };
export function hasRole(role) {
    return !!session.user && (ROLE_RANK[session.user.role] || 0) >= ROLE_RANK[role];
}

/* ---- API client --------------------------------------------------------- */

export class ApiError extends Error {
    constructor(status, code, message) {
        super(message);
        this.status = status;
        this.code = code;
    }
}

// Called once for every 401 outside the login form (set by app.js).
let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) {
    onUnauthorized = fn;
}

function errorFrom(status, text) {
    let code = "http_" + status;
    let message = text && text.length < 300 ? text.trim() : "";
    try {
        const j = JSON.parse(text);
        if (j && j.error) {
            code = j.error.code || code;
            message = j.error.message || message;
        }
    } catch (e) {
        /* not JSON: keep the raw text */
    }
    if (!message) message = "the server answered HTTP " + status;
    return new ApiError(status, code, message);
}

function authHeaders() {
    return session.token ? { Authorization: "Bearer " + session.token } : {};
}

export function queryString(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {}))
        if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
    const s = q.toString();
    return s ? "?" + s : "";
}

// api("GET", "/v1/stats") -> parsed JSON; opts: {json, query, blob, noAuthRedirect}.
export async function api(method, path, opts = {}) {
    const headers = authHeaders();
    let body;
    if (opts.json !== undefined) {
        headers["Content-Type"] = "application/json";
        body = JSON.stringify(opts.json);
    }
    let res;
    try {
        res = await fetch(path + queryString(opts.query), {
            method,
            headers,
            body,
            cache: "no-store",
            credentials: "omit",
        });
    } catch (e) {
        throw new ApiError(0, "network", "cannot reach the scanlite server (" + e.message + ")");
    }
    if (!res.ok) {
        const err = errorFrom(res.status, await res.text().catch(() => ""));
        if (res.status === 401 && !opts.noAuthRedirect) onUnauthorized(err);
        throw err;
    }
    if (opts.blob) return res.blob();
    if (res.status === 204) return null;
    const text = await res.text();
    try {
        return text ? JSON.parse(text) : null;
    } catch (e) {
        throw new ApiError(res.status, "bad_answer", "the server answered something that is not JSON");
    }
}

// Multipart POST with upload progress: onProgress(fraction 0..1, phase).
export function upload(path, form, onProgress) {
    return new Promise((resolve, reject) => {
        const xhr = new XMLHttpRequest();
        xhr.open("POST", path);
        if (session.token) xhr.setRequestHeader("Authorization", "Bearer " + session.token);
        xhr.upload.onprogress = (e) => {
            if (e.lengthComputable) onProgress(e.loaded / e.total, "upload");
        };
        xhr.upload.onload = () => onProgress(1, "analyze");
        xhr.onerror = () => reject(new ApiError(0, "network", "the upload failed: cannot reach the scanlite server"));
        xhr.ontimeout = () => reject(new ApiError(0, "timeout", "the server took too long to answer"));
        xhr.onload = () => {
            if (xhr.status >= 200 && xhr.status < 300) {
                try {
                    resolve(JSON.parse(xhr.responseText));
                } catch (e) {
                    reject(new ApiError(xhr.status, "bad_answer", "the server answered something that is not JSON"));
                }
                return;
            }
            const err = errorFrom(xhr.status, xhr.responseText);
            if (xhr.status === 401) onUnauthorized(err);
            reject(err);
        };
        xhr.timeout = 300000;
        xhr.send(form);
    });
}

/* ---- images through blob: URLs (an <img> cannot send the Bearer header) -- */

const blobCache = new Map(); // API path -> Promise<blob: URL>, oldest first
const BLOB_CACHE_MAX = 200;   // long history sessions must not keep every image

export function blobUrl(path) {
    if (!blobCache.has(path)) {
        while (blobCache.size >= BLOB_CACHE_MAX) {
            const [oldest, p] = blobCache.entries().next().value;
            blobCache.delete(oldest);
            p.then((u) => URL.revokeObjectURL(u), () => {});
        }
        const p = api("GET", path, { blob: true }).then((b) => URL.createObjectURL(b));
        p.catch(() => blobCache.delete(path));
        blobCache.set(path, p);
    }
    return blobCache.get(path);
}

export function clearBlobs() {
    for (const p of blobCache.values()) p.then((u) => URL.revokeObjectURL(u), () => {});
    blobCache.clear();
}

// An <img> filled from an API path; shows a placeholder text if it fails.
export function authImg(path, alt, cls) {
    const img = h("img", { class: cls || "", alt, decoding: "async" });
    img.dataset.state = "loading";
    blobUrl(path).then(
        (u) => {
            img.onload = () => (img.dataset.state = "ready");
            img.src = u;
        },
        (e) => {
            img.dataset.state = "error";
            img.alt = alt + " — not available: " + e.message;
        },
    );
    return img;
}

// Fetches a file with the Bearer header and hands it to the browser as a download.
export async function download(path, query, filename) {
    const blob = await api("GET", path, { query, blob: true });
    const u = URL.createObjectURL(blob);
    const a = h("a", { href: u, download: filename, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(u), 60000);
}

/* ---- models (names, then labels on demand) ------------------------------ */

const modelCache = { list: null, detail: new Map() };

export async function modelList() {
    if (!modelCache.list) modelCache.list = await api("GET", "/v1/models");
    return modelCache.list;
}

export async function modelDetail(name) {
    if (!modelCache.detail.has(name)) {
        const p = api("GET", "/v1/models/" + encodeURIComponent(name));
        p.catch(() => modelCache.detail.delete(name));
        modelCache.detail.set(name, p);
    }
    return modelCache.detail.get(name);
}

/* ---- DOM builders ------------------------------------------------------- */

function append(el, kids) {
    for (const k of kids) {
        if (k === null || k === undefined || k === false) continue;
        if (Array.isArray(k)) append(el, k);
        else el.append(k instanceof Node ? k : String(k));
    }
}

// h("div", {class: "x", onclick: fn, text: "..."}, child, [children], ...)
export function h(tag, props, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
        if (v === undefined || v === null || v === false) continue;
        if (k === "class") el.className = v;
        else if (k === "text") el.textContent = v;
        else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
        else if (k === "value" || k === "checked" || k === "selected" || k === "disabled") el[k] = v;
        else el.setAttribute(k, v === true ? "" : v);
    }
    append(el, kids);
    return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";
export function svg(tag, attrs, ...kids) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
        if (k === "text") el.textContent = v;
        else if (v !== undefined && v !== null) el.setAttribute(k, v);
    }
    append(el, kids);
    return el;
}

export function clear(el, ...kids) {
    el.replaceChildren();
    append(el, kids);
    return el;
}

/* ---- messages ----------------------------------------------------------- */

export function errorText(e) {
    if (e instanceof ApiError) {
        if (e.status === 0) return e.message;
        return e.message + " (" + e.code + ", HTTP " + e.status + ")";
    }
    return String((e && e.message) || e);
}

// An inline message box: kind is "error", "info" or "ok".
export function notice(kind, ...kids) {
    return h("div", { class: "notice notice-" + kind, role: kind === "error" ? "alert" : "status" }, ...kids);
}

// A message in the corner that goes away by itself.
export function toast(text, kind = "info") {
    const area = document.getElementById("toasts");
    if (!area) return;
    const t = h("div", { class: "toast toast-" + kind, role: kind === "error" ? "alert" : "status" }, text);
    area.append(t);
    while (area.children.length > 3) area.firstElementChild.remove();
    setTimeout(() => t.remove(), kind === "error" ? 9000 : 3000);
}

/* ---- formatting --------------------------------------------------------- */

export function pct(p, digits = 1) {
    return typeof p === "number" && isFinite(p) ? (p * 100).toFixed(digits) + "%" : "–";
}

export function fmtTime(iso) {
    if (!iso) return "–";
    const d = new Date(iso);
    if (isNaN(d)) return iso;
    return d.toLocaleString(undefined, {
        year: "numeric", month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit",
    });
}

export function shortHash(s) {
    return s ? s.slice(0, 12) : "–";
}

export function reportHref(subject) {
    return "/report/" + encodeURIComponent(subject);
}

// A horizontal meter (0..1) whose width is set through the CSSOM (CSP-safe).
export function meter(p, cls) {
    const fill = h("span", { class: "meter-fill" });
    fill.style.width = Math.max(0, Math.min(1, p || 0)) * 100 + "%";
    return h("span", { class: "meter " + (cls || ""), role: "img", "aria-label": pct(p) }, fill);
}

export function confidenceClass(p) {
    return p >= 0.8 ? "conf-high" : p >= 0.6 ? "conf-mid" : "conf-low";
}
