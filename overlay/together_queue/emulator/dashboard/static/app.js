// The dashboard: a hash router over the views, one poller that keeps them live, and the
// API key form (shown only when the emulator has keys and this tab holds none).

import * as api from "./api.js";
import { h, replace, tickCountdowns } from "./dom.js";
import { Poller } from "./poller.js";
import { actionsView, filesView, jobsView, jobView, queuesView, workersView } from "./views.js";

const ctx = { overview: null, words: null, poller: null, view: null };
const STATUSES = ["pending", "running", "done", "failed", "canceled"];

function route() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [path, query = ""] = hash.split("?");
  const params = new URLSearchParams(query);
  const [name, ...rest] = path.split("/");
  if (name === "job" && rest.length) return { name, make: () => jobView(ctx, decodeURIComponent(rest.join("/"))) };
  const views = {
    queues: () => queuesView(ctx),
    jobs: () => jobsView(ctx, params),
    workers: () => workersView(ctx),
    actions: () => actionsView(ctx),
    files: () => filesView(ctx),
  };
  const chosen = views[name] ? name : "queues";
  return { name: chosen, make: views[chosen] };
}

function showNav(name) {
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("current", link.dataset.view === name || (name === "job" && link.dataset.view === "jobs"));
  }
}

async function refreshView() {
  if (ctx.view) await ctx.view.update();
}

function navigate() {
  const { name, make } = route();
  showNav(name);
  ctx.view = make();
  replace(document.getElementById("view"), ctx.view.root);
  refreshView().catch(report);
}

function report(error) {
  if (error instanceof api.AuthError) {
    askForKey(error.message);
    return;
  }
  setLive("error", error.message || String(error));
}

function setLive(state, detail) {
  const live = document.getElementById("live");
  live.className = `live live-${state}`;
  live.textContent = state === "live" ? "live" : `${state}${detail ? `: ${detail}` : ""}`;
  if (state === "auth") askForKey(detail);
}

function showTotals() {
  const totals = ctx.overview.totals;
  replace(document.getElementById("totals"),
    STATUSES.map((name) => h("span", { className: `total total-${name}` }, `${name} ${totals[name]}`)));
}

async function tick(full) {
  const since = full || !ctx.overview ? undefined : ctx.overview.version;
  const answer = await api.get("/_emulator/overview", { since });
  if (!answer.changed) return { changed: false };
  ctx.overview = answer;
  showTotals();
  await refreshView();
  return { changed: true };
}

function askForKey(why) {
  ctx.poller.stop();
  const form = document.getElementById("key-form");
  form.hidden = false;
  document.getElementById("key-error").textContent = api.storedKey() ? `the key was refused (${why})` : "";
  document.getElementById("key-input").focus();
}

async function begin() {
  ctx.words = await api.get("/_emulator/syntax");
  document.getElementById("key-form").hidden = true;
  navigate();
  ctx.poller.start();
}

function main() {
  ctx.poller = new Poller(tick, setLive);
  window.addEventListener("hashchange", () => { if (ctx.words) { navigate(); ctx.poller.now(); } });
  setInterval(tickCountdowns, 1000);
  const form = document.getElementById("key-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("key-input");
    api.storeKey(input.value.trim());
    input.value = "";
    begin().catch(report);
  });
  api.session().then((session) => {
    if (session.auth && !api.storedKey()) askForKey("");
    else begin().catch(report);
  }).catch(report);
}

main();
