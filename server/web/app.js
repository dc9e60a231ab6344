// app.js — entry of the scanlite web app: the login form, the page shell
// (header, navigation, user, logout) and the router. location.pathname
// picks the page (/report/{subject} is the printable report, anything else
// the app); inside the app the hash picks the view (#/analyze, #/history,
// #/stats, #/admin). Any 401 from the API ends the session and shows the
// login form again with the server's message.
import {
    api, clear, errorText, h, hasRole, notice, session, sessionClear, sessionLoad, sessionSave,
    setUnauthorizedHandler,
} from "./core.js";
import { renderAnalyze } from "./analyze.js";
import { renderHistory } from "./history.js";
import { renderStats } from "./stats.js";
import { renderAdmin } from "./admin.js";
import { renderReport } from "./report.js";

const VIEWS = [
    { hash: "#/analyze", title: "Analyze", render: renderAnalyze },
    { hash: "#/history", title: "History", render: renderHistory },
    { hash: "#/stats", title: "Statistics", render: renderStats },
    { hash: "#/admin", title: "Admin", render: renderAdmin, role: "admin" },
];

const app = document.getElementById("app");

function reportSubject() {
    const m = /^\/report\/(.+)$/.exec(location.pathname);
    if (!m) return null;
    try {
        return decodeURIComponent(m[1]);
    } catch (e) {
        return m[1];
    }
}

function showLogin(message) {
    document.body.dataset.view = "login";
    const user = h("input", { id: "login-user", name: "username", type: "text", autocomplete: "username", required: true });
    const pass = h("input", { id: "login-pass", name: "password", type: "password", autocomplete: "current-password", required: true });
    const msg = h("div", { class: "msgs", id: "login-msg" }, message ? notice("error", message) : null);
    const btn = h("button", { type: "submit", class: "btn btn-primary btn-block", id: "login-submit" }, "Sign in");
    const form = h("form", { class: "card login-card", id: "login-form" },
        h("div", { class: "brand brand-lg" }, h("img", { src: "/static/favicon.svg", alt: "", width: "36", height: "36" }), "scanlite"),
        h("p", { class: "muted" }, "Image classification for the clinic. Sign in to continue."),
        msg,
        h("div", { class: "field" }, h("label", { for: "login-user" }, "User name"), user),
        h("div", { class: "field" }, h("label", { for: "login-pass" }, "Password"), pass),
        btn,
        h("p", { class: "muted small" }, "First start: the password of the user “admin” is in the file admin-password in the server's data directory."));
    form.addEventListener("submit", async (e) => {
        e.preventDefault();
        clear(msg);
        btn.disabled = true;
        btn.textContent = "Signing in…";
        try {
            const res = await api("POST", "/v1/auth/login", {
                json: { username: user.value.trim(), password: pass.value },
                noAuthRedirect: true,
            });
            sessionSave(res);
            start();
        } catch (err) {
            const text = err.status === 401 ? "Wrong user name or password." :
                err.status === 429 ? "Too many failed attempts: wait a few minutes, then try again." : errorText(err);
            msg.append(notice("error", text));
            pass.select();
        } finally {
            btn.disabled = false;
            btn.textContent = "Sign in";
        }
    });
    clear(app, h("main", { class: "login-wrap" }, form));
    user.focus();
}

async function logout() {
    try {
        await api("POST", "/v1/auth/logout", { noAuthRedirect: true });
    } catch (e) {
        /* the session ends locally anyway */
    }
    sessionClear();
    if (reportSubject()) history.replaceState(null, "", "/");
    showLogin();
}

function shell(activeHash) {
    const nav = h("nav", { class: "nav", "aria-label": "Main" },
        VIEWS.filter((v) => !v.role || hasRole(v.role)).map((v) =>
            h("a", { href: "/" + v.hash, class: v.hash === activeHash ? "active" : "", "aria-current": v.hash === activeHash ? "page" : null,
                id: "nav-" + v.hash.slice(2) }, v.title)));
    const out = h("button", { type: "button", class: "btn btn-small btn-ghost", id: "logout" }, "Log out");
    out.addEventListener("click", logout);
    const main = h("main", { class: "content", id: "view" });
    clear(app,
        h("header", { class: "topbar no-print" },
            h("a", { class: "brand", href: "/#/analyze" }, h("img", { src: "/static/favicon.svg", alt: "", width: "26", height: "26" }), "scanlite"),
            nav,
            h("div", { class: "user" },
                h("span", { class: "user-name", id: "user-name" }, session.user.name),
                h("span", { class: "pill" }, session.user.role),
                out)),
        main);
    return main;
}

async function route() {
    if (!session.token) return showLogin();
    const subject = reportSubject();
    if (subject !== null) {
        document.body.dataset.view = "report";
        const main = shell("");
        main.classList.add("report");
        return renderReport(main, subject);
    }
    let view = VIEWS.find((v) => v.hash === location.hash && (!v.role || hasRole(v.role)));
    if (!view) view = VIEWS[0];
    if (location.pathname !== "/") return location.replace("/" + view.hash);
    document.body.dataset.view = view.hash.slice(2);
    document.title = view.title + " — scanlite";
    const main = shell(view.hash);
    try {
        await view.render(main);
    } catch (e) {
        main.append(notice("error", "This view failed: " + errorText(e)));
    }
}

function start() {
    if (location.pathname === "/" && !location.hash) history.replaceState(null, "", "/#/analyze");
    route();
}

setUnauthorizedHandler((err) => {
    if (!session.token) return;
    sessionClear();
    showLogin("Your session has ended (" + err.message + "). Please sign in again.");
});
window.addEventListener("hashchange", () => {
    if (session.token) route();
});
sessionLoad();
start();
