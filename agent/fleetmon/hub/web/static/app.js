// The console's shell (docs/console.md): a hash router over the page modules in PAGES, the navigation, who is
// logged in, and the context every page gets (the API, the live feed, formatting, notices). ES modules without a
// build step or CDN: hubs are often air-gapped. Adding a page is one module in pages/ and one line in PAGES.
import { createApi } from "./lib/api.js";
import { format } from "./lib/format.js";
import { escapeHtml } from "./lib/html.js";
import { Live } from "./lib/live.js";
import overview from "./pages/overview.js";
import alerts from "./pages/alerts.js";
import alertHistory from "./pages/alert_history.js";
import notifications from "./pages/notifications.js";
import audit from "./pages/audit.js";
import incidents from "./pages/incidents.js";
import maintenance from "./pages/maintenance.js";
import sla from "./pages/sla.js";
import logs from "./pages/logs.js";
import host from "./pages/host.js";
import group from "./pages/group.js";
import login from "./pages/login.js";

// In the navigation's order; pages with `nav: false` are reached by links (a host, a group) or redirects.
const PAGES = [overview, alerts, alertHistory, notifications, incidents, maintenance, sla, logs, audit, host, group,
  login];

const ROLE_RANK = { viewer: 1, operator: 2, admin: 3 };
// A hub without the auth endpoints (or before its auth is configured) is open to read, as it always was.
const OPEN_HUB = { user: null, role: null, csrf: "", anonymous_read: true, users_configured: false };
const TOAST_MS = 6000;
const RETRY_MS = 5000;

const $ = (id) => document.getElementById(id);
const main = $("page");
let me = OPEN_HUB;
let current = null;  // the page on screen: {page, dispose: [functions to call when it goes]}
let generation = 0;  // which navigation is the latest; a page still rendering for an older one is dropped
let returnTo = "#/";  // where the login sends the reader back to

const api = createApi({ csrf: () => me.csrf, onUnauthorized: () => needLogin() });
// A stream refused after a session ended: whether the reader may still read decides between the login and a retry.
const live = new Live({ onRefused: () => whoAmI().then((now) => {
  me = now;
  if (!can("viewer")) needLogin();
}).catch(() => {}) });  // the hub not answering at all: the stream's own retry asks again

function role() {
  return me.role || (me.anonymous_read ? "viewer" : null);
}

function can(wanted) {
  return (ROLE_RANK[role()] || 0) >= (ROLE_RANK[wanted] || 0);
}

async function whoAmI() {
  try {
    return { ...OPEN_HUB, ...(await api.get("api/v1/auth/me")) };
  } catch (error) {
    if (error.status === 404) return OPEN_HUB;
    throw error;
  }
}

/** The page for a hash: the longest page path its parts start with; the rest are the page's params. */
function route(hash) {
  const [path, search = ""] = hash.replace(/^#\/?/, "").split("?", 2);
  let parts;
  try {
    parts = path.split("/").filter(Boolean).map((part) => decodeURIComponent(part));
  } catch {
    return null;  // a malformed escape (a hand-typed %): no such page
  }
  let best = null;
  for (const page of PAGES) {
    const own = page.path.split("/").filter(Boolean);
    const fits = own.length ? own.every((part, i) => parts[i] === part) : !parts.length;
    if (fits && (!best || own.length > best.own.length)) best = { page, own };
  }
  return best && { page: best.page, params: parts.slice(best.own.length), query: new URLSearchParams(search) };
}

function go(hash) {
  if (location.hash === hash) show();
  else location.hash = hash;
}

function needLogin() {
  if (route(location.hash)?.page === login) return;
  returnTo = location.hash || "#/";
  me = { ...me, user: null, role: null };
  live.stop();
  drawChrome();
  go("#/login");
}

async function show() {
  const gen = ++generation;
  if (current) {
    for (const dispose of current.dispose) dispose();
    current = null;
  }
  live.watchHosts([]);
  live.watchPanels(false);
  const found = route(location.hash);
  const root = document.createElement("div");
  main.replaceChildren(root);
  main.setAttribute("aria-busy", "true");
  drawNav(found && found.page);
  if (!found) {
    root.innerHTML = '<p class="empty">No such page. <a href="#/">Back to the overview</a>.</p>';
    main.setAttribute("aria-busy", "false");
    return;
  }
  const { page, params, query } = found;
  if (page !== login && !can("viewer")) {
    needLogin();
    return;
  }
  if (page.role && !can(page.role)) {
    root.innerHTML = `<p class="empty">This page is for the ${escapeHtml(page.role)} role and above` +
      `${me.user ? `; ${escapeHtml(me.user)} is ${escapeHtml(role())}` : ""}.</p>`;
    main.setAttribute("aria-busy", "false");
    return;
  }
  root.className = `page page-${page.path.replace(/\//g, "-") || "overview"}`;
  document.title = `${page.title} · fleetmon`;
  const ctx = pageContext(gen, query);
  current = { page, dispose: ctx.dispose };
  ctx.dispose.push(() => page.dispose && page.dispose());
  try {
    await page.render(root, params, ctx);
  } catch (error) {
    if (gen !== generation) return;
    root.insertAdjacentHTML("beforeend", `<p class="problem" role="alert">This page failed: ${
      escapeHtml(error.message)}</p>`);
    reportError(error);
  } finally {
    if (gen === generation) main.setAttribute("aria-busy", "false");
  }
}

function pageContext(gen, query) {
  const dispose = [];
  const fresh = () => gen === generation;  // a page left behind subscribes to nothing
  return {
    api,
    live: {
      on(name, handler) {
        if (!fresh()) return () => {};
        const off = live.on(name, handler);
        dispose.push(off);
        return off;
      },
      watchHosts(names) {
        if (fresh()) live.watchHosts(names);
      },
      watchPanels(on) {
        if (fresh()) live.watchPanels(on);
      },
      connected: () => live.connected,
    },
    me,
    can,
    go,
    format,
    toast,
    query,
    dispose,  // what the shell calls when the page goes (its live subscriptions, then its own dispose())
    signedIn,  // the login page's: the reader logged in
  };
}

/** The login page's answer: who the reader now is; back to where they wanted to go. */
async function signedIn() {
  me = await whoAmI();
  live.stop();
  if (can("viewer")) live.start();
  drawChrome();
  const back = returnTo;
  returnTo = "#/";
  go(back.startsWith("#/login") ? "#/" : back);
}

async function logOut() {
  try {
    await api.send("POST", "api/v1/auth/logout");
  } catch (error) {
    toast(`Logging out failed: ${error.message}`, "error");
    return;
  }
  try {
    me = await whoAmI();
  } catch {
    me = { ...me, user: null, role: null };  // the session is over either way
  }
  live.stop();
  drawChrome();
  if (can("viewer")) {
    live.start();
    show();
  } else {
    returnTo = "#/";
    go("#/login");
  }
}

function drawChrome() {
  drawNav(current && current.page);
  const box = $("whoami");
  if (me.user) {
    box.innerHTML = `<span class="user">${escapeHtml(me.user)}</span> <span class="role">${escapeHtml(me.role)}</span>` +
      ' <button type="button" class="logout">Log out</button>';
    box.querySelector(".logout").addEventListener("click", logOut);
  } else if (me.users_configured) {
    box.innerHTML = `<span class="user">${me.anonymous_read ? "anonymous" : "not logged in"}</span>` +
      ' <a href="#/login">Log in</a>';
  } else {
    box.textContent = "";
  }
}

function drawNav(active) {
  const links = PAGES.filter((page) => page.nav && can("viewer") && (!page.role || can(page.role)))
    .map((page) => `<a href="#/${page.path}"${page === active ? ' aria-current="page"' : ""}>${
      escapeHtml(page.title)}</a>`);
  document.querySelector("nav.console-nav").innerHTML = links.join("");
}

function toast(text, kind = "info") {
  const notice = document.createElement("div");
  notice.className = `toast toast-${kind}`;
  notice.setAttribute("role", kind === "error" ? "alert" : "status");
  notice.textContent = text;
  $("toasts").appendChild(notice);
  setTimeout(() => notice.remove(), TOAST_MS);
}

function drawLiveState({ connected, running }) {
  const badge = $("live-state");
  badge.hidden = !running;
  badge.className = `live-state ${connected ? "connected" : "reconnecting"}`;
  badge.innerHTML = `<span class="dot" aria-hidden="true"></span>${connected ? "live" : "reconnecting…"}`;
}

async function start() {
  try {
    me = await whoAmI();
  } catch (error) {
    main.innerHTML = `<p class="problem" role="alert">The hub is not answering (${escapeHtml(error.message)}).` +
      " Trying again…</p>";
    setTimeout(start, RETRY_MS);
    return;
  }
  live.on("connection", drawLiveState);
  if (can("viewer")) live.start();
  drawChrome();
  window.addEventListener("hashchange", show);
  show();
}

start();
