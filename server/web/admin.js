// admin.js — the "Admin" view: users and API keys. It talks to
//   GET/POST /v1/users, DELETE /v1/users/{name},
//   GET/POST /v1/keys,  DELETE /v1/keys/{id} (revoke; the new key is shown once).
// When the server answers 404 for these (they are not in every build), the
// view says so and shows the equivalent `scanlite user|key` commands.
import { api, clear, errorText, fmtTime, h, notice, toast } from "./core.js";

const ROLES = ["viewer", "clinician", "admin"];

function roleSelect(id) {
    return h("select", { id }, ROLES.map((r) => h("option", { value: r, selected: r === "clinician" }, r)));
}

const field = (id, label, input) => h("div", { class: "field" }, h("label", { for: id }, label), input);

const CLI = {
    users: "scanlite user list --db scanlite.db\n" +
        "scanlite user add NAME --role clinician --db scanlite.db   # password from stdin or a prompt\n" +
        "scanlite user role NAME admin --db scanlite.db\n" +
        "scanlite user del NAME --db scanlite.db",
    keys: "scanlite key create --role clinician --name ward-3 --db scanlite.db   # prints the key once\n" +
        "scanlite key list --db scanlite.db\n" +
        "scanlite key revoke ID --db scanlite.db",
};

// Shown when the server has no HTTP endpoint for users or keys.
function cliNote(what, endpoints, cmds) {
    return notice("info",
        h("p", null, h("strong", null, "This server does not offer " + what + " over HTTP"),
            " (no " + endpoints + "). Manage them on the server with the command line; it is safe while the server runs:"),
        h("pre", { class: "code" }, cmds));
}

async function usersSection(sec) {
    const msg = h("div", { class: "msgs" });
    const list = h("div");
    clear(sec, h("h2", null, "Users"), msg, list);
    let res;
    try {
        res = await api("GET", "/v1/users");
    } catch (e) {
        if (e.status === 404 || e.status === 405) return clear(sec, h("h2", null, "Users"), cliNote("user management", "/v1/users", CLI.users));
        return msg.append(notice("error", "Cannot list the users: " + errorText(e)));
    }
    const users = res.items || res.users || [];
    clear(list, h("div", { class: "table-wrap" }, h("table", { class: "table", id: "users-table" },
        h("thead", null, h("tr", null, ["Name", "Role", "Created", ""].map((t) => h("th", null, t)))),
        h("tbody", null, users.map((u) => {
            const del = h("button", { type: "button", class: "btn btn-bad btn-small" }, "Delete");
            del.addEventListener("click", async () => {
                if (!confirm("Delete the user " + u.name + "? Their sessions end at once.")) return;
                try {
                    await api("DELETE", "/v1/users/" + encodeURIComponent(u.name));
                    toast("User " + u.name + " deleted", "ok");
                    usersSection(sec);
                } catch (e) {
                    msg.append(notice("error", "Cannot delete " + u.name + ": " + errorText(e)));
                }
            });
            return h("tr", null, h("td", null, u.name), h("td", null, u.role), h("td", null, fmtTime(u.created_at)), h("td", { class: "right" }, del));
        })))));
    const name = h("input", { id: "u-name", type: "text", required: true, maxlength: "64", autocomplete: "off" });
    const pw = h("input", { id: "u-pass", type: "password", required: true, minlength: "8", autocomplete: "new-password" });
    const role = roleSelect("u-role");
    const f = h("form", { class: "inline-form" },
        field("u-name", "Name", name), field("u-pass", "Password", pw), field("u-role", "Role", role),
        h("button", { type: "submit", class: "btn btn-primary" }, "Add user"));
    f.addEventListener("submit", async (e) => {
        e.preventDefault();
        try {
            await api("POST", "/v1/users", { json: { name: name.value.trim(), password: pw.value, role: role.value } });
            toast("User " + name.value.trim() + " added", "ok");
            usersSection(sec);
        } catch (err) {
            msg.append(notice("error", "Cannot add the user: " + errorText(err)));
        }
    });
    list.append(f);
}

async function keysSection(sec) {
    const msg = h("div", { class: "msgs" });
    const list = h("div");
    clear(sec, h("h2", null, "API keys"), msg, list);
    let res;
    try {
        res = await api("GET", "/v1/keys");
    } catch (e) {
        if (e.status === 404 || e.status === 405) return clear(sec, h("h2", null, "API keys"), cliNote("API key management", "/v1/keys", CLI.keys));
        return msg.append(notice("error", "Cannot list the API keys: " + errorText(e)));
    }
    const keys = res.items || res.keys || [];
    clear(list, h("div", { class: "table-wrap" }, h("table", { class: "table", id: "keys-table" },
        h("thead", null, h("tr", null, ["ID", "Name", "Role", "Prefix", "Created", "State", ""].map((t) => h("th", null, t)))),
        h("tbody", null, keys.map((k) => {
            const revoked = !!k.revoked_at;
            const rev = h("button", { type: "button", class: "btn btn-bad btn-small", disabled: revoked }, "Revoke");
            rev.addEventListener("click", async () => {
                if (!confirm("Revoke the key " + k.name + "? Clients using it stop working at once.")) return;
                try {
                    await api("DELETE", "/v1/keys/" + encodeURIComponent(k.id));
                    toast("Key " + k.name + " revoked", "ok");
                    keysSection(sec);
                } catch (e) {
                    msg.append(notice("error", "Cannot revoke " + k.name + ": " + errorText(e)));
                }
            });
            return h("tr", null, h("td", { class: "num" }, String(k.id)), h("td", null, k.name), h("td", null, k.role),
                h("td", null, h("code", null, k.prefix || "")), h("td", null, fmtTime(k.created_at)),
                h("td", null, h("span", { class: "pill " + (revoked ? "pill-bad" : "pill-ok") }, revoked ? "revoked" : "active")),
                h("td", { class: "right" }, rev));
        })))));
    const name = h("input", { id: "k-name", type: "text", maxlength: "64", placeholder: "e.g. ward-3", autocomplete: "off" });
    const role = roleSelect("k-role");
    const f = h("form", { class: "inline-form" }, field("k-name", "Name", name), field("k-role", "Role", role),
        h("button", { type: "submit", class: "btn btn-primary" }, "Create key"));
    f.addEventListener("submit", async (e) => {
        e.preventDefault();
        try {
            const body = { role: role.value };
            if (name.value.trim()) body.name = name.value.trim();
            const k = await api("POST", "/v1/keys", { json: body });
            await keysSection(sec);
            sec.querySelector(".msgs").append(notice("ok",
                h("p", null, h("strong", null, "New key — copy it now, it is shown only once:")),
                h("pre", { class: "code" }, k.key || "(the server did not return the key)")));
        } catch (err) {
            msg.append(notice("error", "Cannot create the key: " + errorText(err)));
        }
    });
    list.append(f);
}

export async function renderAdmin(root) {
    const users = h("section", { class: "card panel", id: "admin-users" });
    const keys = h("section", { class: "card panel", id: "admin-keys" });
    clear(root, h("div", { class: "view-head" }, h("h1", null, "Administration"),
        h("p", { class: "muted" }, "Who may use this server, and the keys of the programs that call its API.")), users, keys);
    await Promise.all([usersSection(users), keysSection(keys)]);
}
