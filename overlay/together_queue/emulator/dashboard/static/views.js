// The dashboard's views. Each returns {root, update}: `root` is built once (forms keep
// what the user typed), `update()` refetches and redraws the live parts. Every value
// that came from a worker or a caller is shown as text.

import * as api from "./api.js";
import {
  ago, countdown, h, pretty, progressBar, replace, shortTime, table,
} from "./dom.js";
import { checkFault, checkRateLimit } from "./syntax.js";

const STATUSES = ["pending", "running", "done", "failed", "canceled"];
const PAGE_SIZE = 50;

function status(value) {
  return h("span", { className: `status status-${STATUSES.includes(value) ? value : "other"}` }, value);
}

function jobLink(requestId) {
  return h("a", { href: `#/job/${encodeURIComponent(requestId)}`, className: "mono" }, requestId);
}

function message(node, text, kind = "ok") {
  replace(node, text);
  node.className = `message ${kind}`;
}

function offset(serverNow) {
  return serverNow - Date.now() / 1000;
}

async function cancelJob(ctx, model, requestId, out) {
  try {
    const body = await api.post("/v1/queue/cancel", { model, request_id: requestId });
    message(out, `canceled: status is now ${body.status}`);
  } catch (error) {
    const current = error.body && error.body.status ? ` (the job is ${error.body.status})` : "";
    message(out, `not canceled: ${error.message}${current}`, "error");
  }
  ctx.poller.now();
}

// -- queues -------------------------------------------------------------------------

export function queuesView(ctx) {
  const body = h("div");
  const out = h("p", { className: "message" });
  const root = h("section", { id: "queues" }, h("h2", {}, "Queues"), body, out);

  function clearButton(model) {
    const button = h("button", {
      type: "button",
      onclick: async () => {
        if (button.dataset.armed !== "yes") {
          button.dataset.armed = "yes";
          button.textContent = "Confirm: cancel every pending job";
          return;
        }
        try {
          const answer = await api.post("/v1/queue/clear", { model });
          message(out, `${model}: ${answer.canceled_count} pending job(s) canceled`);
        } catch (error) {
          message(out, `${model}: ${error.message}`, "error");
        }
        ctx.poller.now();
      },
    }, "Clear");
    return button;
  }

  function update() {
    const overview = ctx.overview;
    if (!overview) return;
    const rows = overview.queues.map((queue) => {
      const worker = [];
      if (queue.handler) worker.push(`in process (${queue.handler})`);
      if (queue.last_poll) worker.push(`remote, last poll ${ago(queue.last_poll, overview.now)}`);
      if (queue.waiting_polls) worker.push(`${queue.waiting_polls} waiting`);
      return h("tr", { dataset: { model: queue.model } },
        h("td", {}, h("a", { href: `#/jobs?model=${encodeURIComponent(queue.model)}` }, queue.model)),
        STATUSES.map((name) => h("td", { className: `num count-${name}` }, String(queue.counts[name]))),
        h("td", { className: "num rate" }, queue.submitted_per_s.toFixed(1)),
        h("td", { className: "num rate" }, queue.finished_per_s.toFixed(1)),
        h("td", {}, worker.length ? worker.join("; ") : "nobody polls"),
        h("td", {}, clearButton(queue.model)));
    });
    const limits = overview.rate_limits.length ? overview.rate_limits.join("  ") : "none";
    const faults = overview.faults.rules.length ? overview.faults.rules.join("  ") : "none";
    replace(body,
      rows.length
        ? table(["model", ...STATUSES, "submits/s", "finished/s", "worker", ""], rows)
        : h("p", {}, "No jobs yet. Submit one from Actions, or with the client."),
      h("p", { className: "hint" },
        "Rates: jobs per second over the last minute. ",
        `Rate limits: ${limits}. Faults: ${faults}.`));
  }
  return { root, update };
}

// -- jobs ---------------------------------------------------------------------------

export function jobsView(ctx, params) {
  const filters = {
    model: params.get("model") || "",
    status: params.get("status") || "",
    priority: params.get("priority") || "",
    q: params.get("q") || "",
  };
  const pages = [null]; // the `before` of each page seen; the last is the current one
  const list = h("div");
  const out = h("p", { className: "message" });
  const modelInput = h("input", { name: "model", value: filters.model, placeholder: "any model" });
  const statusSelect = h("select", { name: "status" },
    h("option", { value: "" }, "any status"),
    STATUSES.map((name) => h("option", { value: name, selected: name === filters.status }, name)));
  const priorityInput = h("input", { name: "priority", type: "number", value: filters.priority, placeholder: "any priority" });
  const textInput = h("input", { name: "q", value: filters.q, placeholder: "request id contains" });
  const form = h("form", {
    className: "filters",
    onsubmit: (event) => {
      event.preventDefault();
      const query = new URLSearchParams();
      for (const [name, input] of [["model", modelInput], ["status", statusSelect], ["priority", priorityInput], ["q", textInput]]) {
        if (input.value) query.set(name, input.value);
      }
      location.hash = `#/jobs${query.size ? `?${query}` : ""}`;
    },
  }, modelInput, statusSelect, priorityInput, textInput, h("button", { type: "submit" }, "Filter"));
  const newer = h("button", { type: "button", onclick: () => { pages.pop(); update(); } }, "« Newer");
  const older = h("button", { type: "button", onclick: () => { pages.push(older.dataset.before); update(); } }, "Older »");
  const pager = h("div", { className: "pager" }, newer, older);
  const root = h("section", { id: "jobs" }, h("h2", {}, "Jobs"), form, list, pager, out);

  async function update() {
    const before = pages[pages.length - 1];
    const answer = await api.get("/_emulator/jobs/search", { ...filters, before, limit: PAGE_SIZE });
    const clock = offset(answer.now);
    const rows = answer.jobs.map((job) => h("tr", { dataset: { requestId: job.request_id } },
      h("td", {}, jobLink(job.request_id)),
      h("td", {}, job.model),
      h("td", {}, status(job.status)),
      h("td", { className: "num" }, String(job.priority)),
      h("td", { className: "num" }, String(job.retries)),
      h("td", {}, progressBar(job.progress)),
      h("td", {}, shortTime(job.created_at)),
      h("td", {}, job.claimed_by || ""),
      h("td", {}, job.status === "running" ? countdown(job.claim_expires_at, clock) : ""),
      h("td", {}, job.status === "pending"
        ? h("button", { type: "button", onclick: () => cancelJob(ctx, job.model, job.request_id, out) }, "Cancel")
        : "")));
    replace(list, rows.length
      ? table(["request id", "model", "status", "priority", "retries", "progress", "created", "worker", "lease", ""], rows, { className: "jobs-table" })
      : h("p", {}, "No job matches."));
    newer.disabled = pages.length <= 1;
    older.disabled = answer.next_before === null;
    if (answer.next_before !== null) older.dataset.before = String(answer.next_before);
  }
  return { root, update };
}

// -- one job ------------------------------------------------------------------------

function outputsNode(outputs, links) {
  if (outputs === null || outputs === undefined) return h("p", {}, "none yet");
  const linkList = Object.entries(links).map(([url, href]) =>
    h("li", {}, h("a", { href, className: "mono", download: "" }, url)));
  return h("div", {},
    h("pre", { className: "json" }, pretty(outputs)),
    linkList.length ? h("div", {}, h("h4", {}, "Files"), h("ul", { className: "downloads" }, linkList)) : null);
}

export function jobView(ctx, requestId) {
  const body = h("div");
  const out = h("p", { className: "message" });
  const root = h("section", { id: "job" }, h("h2", {}, "Job ", h("span", { className: "mono" }, requestId)), body, out);

  async function update() {
    const answer = await api.get(`/_emulator/jobs/${encodeURIComponent(requestId)}`);
    const job = answer.job;
    const clock = offset(answer.now);
    const facts = [
      ["model", job.model], ["status", status(job.status)], ["priority", String(job.priority)],
      ["retries", String(job.retries)], ["claims", String(job.claim_count)],
      ["progress", progressBar(job.info ? job.info.progress : undefined)],
      ["created", shortTime(job.created_at)], ["claimed", shortTime(job.claimed_at)],
      ["finished", shortTime(job.done_at)], ["held by", job.claimed_by || ""],
      ["lease", job.status === "running" ? countdown(job.claim_expires_at, clock) : ""],
    ];
    const claims = answer.claims.map((claim) => h("tr", {},
      h("td", {}, shortTime(claim.claimed_at)), h("td", {}, claim.hostname),
      h("td", {}, claim.worker_version || ""), h("td", {}, claim.idle_time || ""),
      h("td", { className: "num" }, String(claim.retries)),
      h("td", {}, claim.claim_timeout === null ? "" : `${claim.claim_timeout} s`),
      h("td", {}, claim.current ? (job.status === "running" ? "holding" : job.status) : "lapsed")));
    const history = answer.history.map((update) => h("tr", {},
      h("td", {}, shortTime(update.at)), h("td", {}, status(update.status)),
      h("td", {}, h("code", {}, JSON.stringify(update.info)))));
    replace(body,
      h("dl", { className: "facts" }, facts.map(([name, value]) => [h("dt", {}, name), h("dd", {}, value)])),
      job.status === "pending"
        ? h("button", { type: "button", id: "cancel-job", onclick: () => cancelJob(ctx, job.model, job.request_id, out) }, "Cancel this job")
        : null,
      h("h3", {}, "Payload"), h("pre", { className: "json", id: "payload" }, pretty(job.payload)),
      h("h3", {}, "Info"), h("pre", { className: "json", id: "info" }, pretty(job.info)),
      h("h3", {}, "Outputs"), outputsNode(job.outputs, answer.links),
      job.warnings.length ? [h("h3", {}, "Warnings"), h("ul", {}, job.warnings.map((w) => h("li", {}, w)))] : null,
      h("h3", {}, "Claims"),
      claims.length ? table(["claimed", "worker", "version", "idle", "retries", "lease", "state"], claims) : h("p", {}, "none"),
      h("h3", {}, "Status updates"),
      history.length ? table(["at", "status", "info sent"], history, { id: "history" }) : h("p", {}, "none"));
  }
  return { root, update };
}

// -- workers ------------------------------------------------------------------------

export function workersView() {
  const body = h("div");
  const root = h("section", { id: "workers" }, h("h2", {}, "Workers"), body);

  async function update() {
    const answer = await api.get("/_emulator/workers");
    const clock = offset(answer.now);
    const holding = answer.holding.map((row) => h("tr", {},
      h("td", {}, row.hostname || ""), h("td", {}, row.worker_version || ""),
      h("td", {}, jobLink(row.request_id)), h("td", {}, row.model),
      h("td", {}, progressBar(row.progress)), h("td", {}, row.idle_time || ""),
      h("td", {}, countdown(row.claim_expires_at, clock))));
    const polls = Object.keys({ ...answer.last_polls, ...answer.in_process, ...answer.waiting_polls }).sort().map((model) => h("tr", {},
      h("td", {}, model),
      h("td", {}, answer.in_process[model] ? `in process (${answer.in_process[model]})` : "remote"),
      h("td", {}, answer.last_polls[model] ? ago(answer.last_polls[model], answer.now) : "never over HTTP"),
      h("td", { className: "num" }, String(answer.waiting_polls[model] || 0))));
    const claims = answer.claims.map((claim) => h("tr", { className: `claim-${claim.state}` },
      h("td", {}, shortTime(claim.claimed_at)), h("td", {}, claim.hostname),
      h("td", {}, jobLink(claim.request_id)), h("td", {}, claim.model),
      h("td", { className: "num" }, String(claim.retries)), h("td", {}, claim.idle_time || ""),
      h("td", {}, claim.state)));
    replace(body,
      h("h3", {}, "Holding a job now"),
      holding.length ? table(["worker", "version", "job", "model", "progress", "idle before claim", "lease"], holding) : h("p", {}, "Nobody holds a job."),
      h("h3", {}, "Polling"),
      polls.length ? table(["model", "served", "last poll", "polls waiting"], polls) : h("p", {}, "No worker has polled."),
      h("h3", {}, "Latest claims"),
      claims.length ? table(["claimed", "worker", "job", "model", "retries", "idle", "state"], claims) : h("p", {}, "No claims yet."));
  }
  return { root, update };
}

// -- actions ------------------------------------------------------------------------

function rulesEditor({ title, id, placeholder, check, send, clear, current }) {
  const area = h("textarea", { id, rows: "4", spellcheck: "false", placeholder });
  const problems = h("ul", { className: "problems" });
  const out = h("p", { className: "message" });
  const setButton = h("button", { type: "submit" }, "Set");
  function lines() {
    return area.value.split("\n").map((line) => line.trim()).filter((line) => line);
  }
  function validate() {
    const found = lines().map((line) => [line, check(line)]).filter(([, problem]) => problem);
    replace(problems, found.map(([line, problem]) => h("li", {}, `${line}: ${problem}`)));
    setButton.disabled = found.length > 0;
    return found.length === 0;
  }
  area.addEventListener("input", validate);
  const form = h("form", {
    id: `${id}-form`,
    onsubmit: async (event) => {
      event.preventDefault();
      if (!validate()) return;
      try {
        await send(lines());
        message(out, `${title}: set`);
      } catch (error) {
        message(out, `${title}: ${error.message}`, "error");
      }
    },
  }, h("h3", {}, title), area, problems, setButton,
  h("button", {
    type: "button",
    onclick: async () => {
      try {
        await clear();
        area.value = "";
        validate();
        message(out, `${title}: cleared`);
      } catch (error) {
        message(out, `${title}: ${error.message}`, "error");
      }
    },
  }, "Clear all"), out);
  return {
    form,
    fill(rules) {
      if (document.activeElement !== area && area.dataset.filled !== "yes") {
        area.value = rules.join("\n");
        area.dataset.filled = "yes";
      }
      current.textContent = rules.length ? rules.join("  ") : "none";
    },
  };
}

export function actionsView(ctx) {
  const out = h("p", { className: "message", id: "submit-result" });
  const model = h("input", { id: "submit-model", required: true, placeholder: "model", list: "known-models" });
  const models = h("datalist", { id: "known-models" });
  const payload = h("textarea", { id: "submit-payload", rows: "3", spellcheck: "false" });
  payload.value = '{"prompt": "hello"}';
  const priority = h("input", { id: "submit-priority", type: "number", value: "0" });
  const submitForm = h("form", {
    id: "submit-form",
    onsubmit: async (event) => {
      event.preventDefault();
      let parsed;
      try {
        parsed = JSON.parse(payload.value);
      } catch (error) {
        message(out, `payload is not JSON: ${error.message}`, "error");
        return;
      }
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
        message(out, "payload must be a JSON object", "error");
        return;
      }
      try {
        const answer = await api.post("/v1/queue/submit", {
          model: model.value, payload: parsed, priority: Number(priority.value || 0),
        });
        replace(out, "submitted ", jobLink(answer.requestId));
        out.className = "message ok";
      } catch (error) {
        message(out, `not submitted: ${error.message}`, "error");
      }
      ctx.poller.now();
    },
  }, h("h3", {}, "Submit a test job"),
  h("label", {}, "model ", model), models,
  h("label", {}, "priority ", priority),
  h("label", { className: "wide" }, "payload (JSON object) ", payload),
  h("button", { type: "submit" }, "Submit"), out);

  const currentFaults = h("span", { className: "mono" });
  const currentLimits = h("span", { className: "mono" });
  const faults = rulesEditor({
    title: "Fault rules",
    id: "fault-rules",
    placeholder: "one per line, e.g. submit:500:next=1",
    check: (line) => checkFault(line, ctx.words.fault),
    send: async (rules) => { await api.post("/_emulator/faults", { rules, seed: ctx.overview ? ctx.overview.faults.seed : 0 }); ctx.poller.now(); },
    clear: async () => { await api.post("/_emulator/faults", { rules: [] }); ctx.poller.now(); },
    current: currentFaults,
  });
  const limits = rulesEditor({
    title: "Rate limits",
    id: "rate-limits",
    placeholder: "one per line, e.g. submit=50/s,burst=10",
    check: (line) => checkRateLimit(line, ctx.words.rate_limit),
    send: async (rules) => { await api.post("/_emulator/rate-limits", { limits: rules }); ctx.poller.now(); },
    clear: async () => { await api.post("/_emulator/rate-limits", { limits: [] }); ctx.poller.now(); },
    current: currentLimits,
  });
  const root = h("section", { id: "actions" }, h("h2", {}, "Actions"), submitForm,
    faults.form, h("p", { className: "hint" }, `Syntax: ${ctx.words.fault.form}. In force: `, currentFaults),
    limits.form, h("p", { className: "hint" }, `Syntax: ${ctx.words.rate_limit.form}. In force: `, currentLimits));

  function update() {
    if (!ctx.overview) return;
    replace(models, ctx.overview.queues.map((queue) => h("option", { value: queue.model })));
    faults.fill(ctx.overview.faults.rules);
    limits.fill(ctx.overview.rate_limits);
  }
  return { root, update };
}

// -- files --------------------------------------------------------------------------

export function filesView() {
  const body = h("div");
  const root = h("section", { id: "files" }, h("h2", {}, "Files"), body);
  async function update() {
    const answer = await api.get("/_emulator/files");
    const rows = answer.files.map((file) => h("tr", {},
      h("td", {}, h("a", { href: file.href, className: "mono", download: "" }, file.name)),
      h("td", { className: "num" }, file.size.toLocaleString("en"))));
    replace(body, rows.length ? table(["file", "bytes"], rows) : h("p", {}, "No files stored."));
  }
  return { root, update };
}
