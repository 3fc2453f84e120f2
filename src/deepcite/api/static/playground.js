// The deepcite playground. Plain JS, no build step.
// Everything that comes from the server (answer text, titles, excerpts, reasoning) is
// untrusted: it only ever reaches the page as text nodes (textContent); links are built
// as DOM nodes and only for http(s) URLs. The page's CSP forbids inline script besides.
"use strict";

const $ = (id) => document.getElementById(id);
const KEY_STORAGE = "deepcite-key";

const SCHEMA_EXAMPLES = {
  "Short answer": {
    type: "object",
    properties: {answer: {type: "string", description: "One sentence."}},
    required: ["answer"],
  },
  "Fact with details": {
    type: "object",
    properties: {
      answer: {type: "string"},
      year: {type: "integer", description: "The year the answer is about, if any."},
      place: {type: "string"},
    },
    required: ["answer", "year", "place"],
  },
  "List of items": {
    type: "object",
    properties: {items: {type: "array", items: {type: "string"}, minItems: 1, maxItems: 5}},
    required: ["items"],
  },
};

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (name === "dataset") Object.assign(node.dataset, value);
    else node[name] = value;
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function safeUrl(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch (e) {
    return null;
  }
}

function domainOf(url) {
  try { return new URL(url).hostname; } catch (e) { return ""; }
}

function words(text) {
  return new Set((text.toLowerCase().match(/[\p{L}\p{N}]{3,}/gu) || []));
}

// ---------- the request ----------

function requestBody() {
  const body = {model: $("model").value, stream: true, messages: [{role: "user", content: $("question").value}]};
  if ($("useSchema").checked) {
    body.response_format = {type: "json_schema", json_schema: {name: "answer", schema: JSON.parse($("schema").value)}};
  }
  return body;
}

function shellQuote(text) {
  return "'" + text.replace(/'/g, "'\\''") + "'";
}

function pyInline(value) {
  if (value === null) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "string" || typeof value === "number") return JSON.stringify(value);
  if (Array.isArray(value)) return "[" + value.map(pyInline).join(", ") + "]";
  return "{" + Object.entries(value).map(([k, v]) => JSON.stringify(k) + ": " + pyInline(v)).join(", ") + "}";
}

// A Python literal of a JSON value, on one line when short, else indented.
function pyLiteral(value, indent) {
  const inline = pyInline(value);
  if (inline.length + indent <= 88) return inline;
  const pad = " ".repeat(indent + 4);
  if (value === null) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "string" || typeof value === "number") return JSON.stringify(value);
  if (Array.isArray(value)) {
    if (!value.length) return "[]";
    return "[\n" + value.map((v) => pad + pyLiteral(v, indent + 4)).join(",\n") + ",\n" + " ".repeat(indent) + "]";
  }
  const entries = Object.entries(value);
  if (!entries.length) return "{}";
  return "{\n" + entries.map(([k, v]) => pad + JSON.stringify(k) + ": " + pyLiteral(v, indent + 4)).join(",\n") +
    ",\n" + " ".repeat(indent) + "}";
}

function updateShare() {
  const params = new URLSearchParams({q: $("question").value, model: $("model").value});
  $("shareLink").value = location.origin + "/?" + params.toString();
  let body;
  try { body = requestBody(); } catch (e) { body = null; }
  if (!body) {
    $("curlSnippet").textContent = $("pythonSnippet").textContent = "(the JSON schema is not valid JSON)";
    return;
  }
  const base = location.origin + "/v1";
  $("curlSnippet").textContent = [
    "curl -N " + base + "/chat/completions \\",
    '  -H "Authorization: Bearer $DEEPCITE_API_KEY" \\',
    '  -H "Content-Type: application/json" \\',
    "  -d " + shellQuote(JSON.stringify(body)),
  ].join("\n");
  const args = [`    model=${JSON.stringify(body.model)},`, `    messages=${pyLiteral(body.messages, 4)},`, "    stream=True,"];
  if (body.response_format) args.push(`    response_format=${pyLiteral(body.response_format, 4)},`);
  $("pythonSnippet").textContent = [
    "import os",
    "from openai import OpenAI",
    "",
    `client = OpenAI(base_url=${JSON.stringify(base)}, api_key=os.environ.get("DEEPCITE_API_KEY", "unused-on-loopback"))`,
    "stream = client.chat.completions.create(",
    ...args,
    ")",
    "for chunk in stream:",
    "    if chunk.choices and chunk.choices[0].delta.content:",
    '        print(chunk.choices[0].delta.content, end="", flush=True)',
    "    if getattr(chunk, \"basis\", None):",
    "        print(\"\\n\", chunk.basis)  # sources, excerpts, reasoning, confidence",
  ].join("\n");
}

async function copyFrom(id, button) {
  const source = $(id);
  const text = "value" in source ? source.value : source.textContent;
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
  } catch (e) {
    // No clipboard (an insecure origin, a denied permission): select it for a manual copy.
    const range = document.createRange();
    range.selectNodeContents(source);
    if (source.select) source.select(); else { getSelection().removeAllRanges(); getSelection().addRange(range); }
    button.textContent = "Selected";
  }
  setTimeout(() => { button.textContent = "Copy"; }, 1500);
}

// ---------- progress ----------

const progress = {queries: 0, pages: 0, leads: 0};

function resetProgress() {
  Object.assign(progress, {queries: 0, pages: 0, leads: 0});
  $("progressLog").replaceChildren();
  $("progressCounts").textContent = "";
  $("progressLine").textContent = "";
  $("progressSteps").open = true;
  $("progress").hidden = true;
}

function showProgress(step) {
  const stage = String(step.stage || "");
  const message = String(step.message || "");
  if (stage === "search") progress.queries += 1;
  if (stage === "plan" && message.includes(":")) progress.leads += message.split(":").slice(1).join(":").split(";").length;
  const read = stage === "read" && message.match(/\bread (\d+) pages?/);
  if (read) progress.pages = Math.max(progress.pages, Number(read[1]));
  const counts = [`${progress.queries} quer${progress.queries === 1 ? "y" : "ies"}`, `${progress.pages} page${progress.pages === 1 ? "" : "s"} read`];
  if (progress.leads) counts.push(`${progress.leads} lead${progress.leads === 1 ? "" : "s"} followed`);
  $("progress").hidden = false;
  $("progressCounts").textContent = counts.join(" · ");
  $("progressLine").textContent = `${stage}: ${message}`;
  $("progressLog").append(el("li", {textContent: `${stage}: ${message}`}));
  $("progressLog").scrollTop = $("progressLog").scrollHeight;
}

// ---------- sources ----------

let sourceByUrl = new Map();   // url -> {number, title, card, excerpts: [{text, node}]}

// url -> the numbers its `[n]` markers carry (one source may be cited as several pieces of evidence);
// sources cited by no marker (the fields of a JSON answer) are numbered after them.
function sourceNumbers(content, annotations, basis) {
  const numbers = new Map();
  for (const note of annotations) {
    const span = note.url_citation || {};
    const marker = content.slice(span.start_index, span.end_index).replace(/[\[\]]/g, "");
    if (!/^\d+$/.test(marker)) continue;
    if (!numbers.has(span.url)) numbers.set(span.url, []);
    if (!numbers.get(span.url).includes(Number(marker))) numbers.get(span.url).push(Number(marker));
  }
  let next = Math.max(0, ...[...numbers.values()].flat()) + 1;
  for (const field of basis) {
    for (const cite of field.citations || []) if (!numbers.has(cite.url)) numbers.set(cite.url, [next++]);
  }
  return numbers;
}

function confidenceBadge(confidence) {
  const level = ["low", "medium", "high"].includes(confidence) ? confidence : "unknown";
  return el("span", {className: "conf " + level, textContent: level, title: "confidence"});
}

function renderSources(basis, numbers, {withFields}) {
  sourceByUrl = new Map();
  const fields = $("fields");
  fields.replaceChildren();
  if (withFields) {
    for (const entry of basis) {
      fields.append(el("div", {className: "field"},
        el("span", {className: "field-name", textContent: entry.field}), confidenceBadge(entry.confidence),
        entry.reasoning ? el("div", {className: "reasoning", textContent: entry.reasoning}) : null));
    }
  }
  const cited = new Map();   // url -> {cite, fields: [entry], excerpts: Set}
  for (const entry of basis) {
    for (const cite of entry.citations || []) {
      if (!cited.has(cite.url)) cited.set(cite.url, {cite, fields: [], excerpts: new Set()});
      const item = cited.get(cite.url);
      item.fields.push(entry);
      for (const excerpt of cite.excerpts || []) item.excerpts.add(excerpt);
    }
  }
  const list = $("sources");
  list.replaceChildren();
  const ordered = [...cited.values()].sort((a, b) => numbers.get(a.cite.url)[0] - numbers.get(b.cite.url)[0]);
  for (const {cite, fields: citing, excerpts} of ordered) {
    const number = numbers.get(cite.url)[0];
    const href = safeUrl(cite.url);
    const label = cite.title || cite.url;
    const title = href ? el("a", {href, target: "_blank", rel: "noopener noreferrer", textContent: label})
                       : el("span", {textContent: label});
    const card = el("li", {className: "source", id: "source-" + number, tabIndex: -1, dataset: {url: cite.url}},
      el("div", {className: "source-head"},
        el("span", {className: "source-num", textContent: numbers.get(cite.url).map((n) => `[${n}]`).join("")}), title,
        el("span", {className: "domain", textContent: domainOf(cite.url)})));
    const forFields = el("div", {className: "cited-for"}, "cited for ");
    for (const entry of citing) forFields.append(el("span", {className: "field-name", textContent: entry.field}), confidenceBadge(entry.confidence), " ");
    card.append(forFields);
    const nodes = [];
    for (const text of excerpts) {
      const node = el("blockquote", {className: "excerpt", textContent: text});
      card.append(node);
      nodes.push({text, node});
    }
    list.append(card);
    sourceByUrl.set(cite.url, {number, title: label, card, excerpts: nodes});
  }
  $("sourcesPane").hidden = !cited.size && !withFields;
}

function selectSource(url) {
  const source = sourceByUrl.get(url);
  if (!source) return;
  for (const other of document.querySelectorAll(".source.selected")) other.classList.remove("selected");
  source.card.classList.add("selected");
  source.card.scrollIntoView({block: "nearest", behavior: "smooth"});
  source.card.focus({preventScroll: true});
}

function markerLink(text, url) {
  const source = sourceByUrl.get(url);
  const link = el("a", {className: "marker", textContent: text, href: source ? "#source-" + source.number : "#",
                        title: source ? source.title : url, dataset: {url}});
  link.addEventListener("click", (event) => { event.preventDefault(); selectSource(url); });
  return link;
}

// The excerpts that back a sentence: per cited source, the one sharing most words with it.
function supportingExcerpts(sentence, urls) {
  const mine = words(sentence);
  const found = [];
  for (const url of urls) {
    const source = sourceByUrl.get(url);
    if (!source) continue;
    let best = [];
    let bestScore = 0;
    for (const excerpt of source.excerpts) {
      const theirs = words(excerpt.text);
      let shared = 0;
      for (const w of theirs) if (mine.has(w)) shared += 1;
      const score = theirs.size ? shared / theirs.size : 0;
      if (score > bestScore) { best = [excerpt.node]; bestScore = score; }
      else if (score === bestScore && score > 0) best.push(excerpt.node);
    }
    found.push(...(bestScore > 0 ? best : source.excerpts.map((e) => e.node)));
  }
  return found;
}

function linkSentenceToExcerpts(span, sentence, urls) {
  span.classList.add("supported");
  span.tabIndex = 0;
  const on = () => {
    span.classList.add("active");
    for (const node of supportingExcerpts(sentence, urls)) node.classList.add("support");
  };
  const off = () => {
    span.classList.remove("active");
    for (const node of document.querySelectorAll("blockquote.support")) node.classList.remove("support");
  };
  span.addEventListener("mouseenter", on);
  span.addEventListener("focus", on);
  span.addEventListener("mouseleave", off);
  span.addEventListener("blur", off);
}

// ---------- the answer ----------

// A sentence is the text up to and including a run of markers; text after the last run stands alone.
function renderText(content, annotations) {
  const answer = $("answer");
  answer.classList.remove("streaming");
  const notes = annotations.map((a) => a.url_citation || {})
    .filter((s) => Number.isInteger(s.start_index) && Number.isInteger(s.end_index) && s.end_index <= content.length)
    .sort((a, b) => a.start_index - b.start_index);
  const parts = [];
  let cursor = 0;
  let i = 0;
  while (i < notes.length) {
    const run = [notes[i]];
    while (i + 1 < notes.length && /^\s*$/.test(content.slice(run[run.length - 1].end_index, notes[i + 1].start_index))) {
      i += 1;
      run.push(notes[i]);
    }
    i += 1;
    const span = el("span", {className: "sentence"});
    const sentence = content.slice(cursor, run[0].start_index);
    span.append(sentence);
    let end = run[0].start_index;
    for (const note of run) {
      span.append(content.slice(end, note.start_index), markerLink(content.slice(note.start_index, note.end_index), note.url));
      end = note.end_index;
    }
    linkSentenceToExcerpts(span, sentence, [...new Set(run.map((n) => n.url))]);
    parts.push(span);
    cursor = end;
  }
  if (cursor < content.length) parts.push(el("span", {className: "sentence"}, content.slice(cursor)));
  answer.replaceChildren(...parts);
  answer.hidden = false;
}

function basisCard(entry, numbers) {
  const card = el("div", {className: "json-basis"});
  if (!entry) {
    card.append(el("span", {className: "none", textContent: "no basis for this field"}));
    return card;
  }
  card.append(el("span", {className: "field-name", textContent: entry.field}), confidenceBadge(entry.confidence));
  if (entry.reasoning) card.append(el("div", {className: "reasoning", textContent: entry.reasoning}));
  const cites = el("div");
  for (const cite of entry.citations || []) {
    const number = numbers.get(cite.url)[0];
    const link = el("a", {className: "cite-link", href: "#source-" + number, textContent: `[${number}] ${cite.title || domainOf(cite.url)}`,
                          dataset: {url: cite.url}});
    link.addEventListener("click", (event) => { event.preventDefault(); selectSource(cite.url); });
    cites.append(link);
  }
  card.append(cites);
  return card;
}

// A JSON answer: each top-level field beside its basis; array elements beside `field.N`.
function renderJson(content, basis, numbers) {
  const box = $("json");
  $("answer").hidden = true;
  let value;
  try { value = JSON.parse(content); } catch (e) { renderText(content, []); return; }
  const byField = new Map(basis.map((entry) => [entry.field, entry]));
  const rows = [];
  if (value && typeof value === "object" && !Array.isArray(value)) {
    for (const [key, item] of Object.entries(value)) {
      const elements = Array.isArray(item) ? item.map((_, n) => byField.get(`${key}.${n}`)) : [];
      if (elements.some(Boolean)) {
        rows.push(el("div", {className: "json-row", dataset: {field: key}},
          el("pre", {textContent: `${JSON.stringify(key)}: [ … ${item.length} item${item.length === 1 ? "" : "s"} ]`}),
          basisCard(byField.get(key), numbers)));
        item.forEach((element, n) => rows.push(el("div", {className: "json-row element", dataset: {field: `${key}.${n}`}},
          el("pre", {textContent: `[${n}] ${JSON.stringify(element, null, 2)}`}),
          basisCard(elements[n], numbers))));
      } else {
        rows.push(el("div", {className: "json-row", dataset: {field: key}},
          el("pre", {textContent: `${JSON.stringify(key)}: ${JSON.stringify(item, null, 2)}`}),
          basisCard(byField.get(key), numbers)));
      }
    }
  } else {
    rows.push(el("div", {className: "json-row"}, el("pre", {textContent: JSON.stringify(value, null, 2)}),
      basisCard(byField.get("content"), numbers)));
  }
  box.replaceChildren(...rows);
  box.hidden = false;
}

// ---------- streaming ----------

async function* sseData(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  while (true) {
    const {value, done} = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, {stream: true}).replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      // Comments (": keep-alive", ": progress …") carry nothing the data lines do not.
      const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("\n");
      if (data) yield data;
    }
  }
}

let controller = null;

function clearRun() {
  for (const id of ["meta", "error"]) $(id).textContent = "";
  for (const id of ["answer", "json", "fields", "sources"]) $(id).replaceChildren();
  $("answer").hidden = $("json").hidden = $("sourcesPane").hidden = true;
  sourceByUrl = new Map();
  resetProgress();
}

async function ask(event) {
  event.preventDefault();
  const key = $("key").value.trim();
  localStorage.setItem(KEY_STORAGE, key);
  let body;
  try { body = requestBody(); } catch (e) { $("error").textContent = "The JSON schema is not valid JSON: " + e.message; return; }
  clearRun();
  updateShare();
  const jsonAnswer = Boolean(body.response_format);
  $("go").disabled = true; $("stop").disabled = false;
  controller = new AbortController();
  const started = performance.now();
  let firstToken = null;
  let streamed = "";
  try {
    const headers = {"content-type": "application/json"};
    if (key) headers.authorization = "Bearer " + key;
    const response = await fetch("/v1/chat/completions", {method: "POST", headers, body: JSON.stringify(body), signal: controller.signal});
    if (!response.ok) {
      const problem = await response.json().catch(() => ({}));
      const message = (problem.error && problem.error.message) || ("HTTP " + response.status);
      throw new Error(response.status === 401 ? message + " (enter an API key above)" : message);
    }
    if (!jsonAnswer) { $("answer").hidden = false; $("answer").classList.add("streaming"); }
    for await (const data of sseData(response)) {
      if (data === "[DONE]") break;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new Error(chunk.error.message || "the research failed");
      const extension = chunk.deepcite || {};
      if (extension.progress) showProgress(extension.progress);
      const choice = (chunk.choices && chunk.choices[0]) || {};
      const delta = choice.delta || {};
      if (typeof delta.content === "string" && delta.content) {
        if (firstToken === null) firstToken = performance.now() - started;
        streamed += delta.content;
        if (!jsonAnswer) $("answer").textContent = streamed;
      }
      if (choice.finish_reason) {
        const content = typeof extension.content === "string" ? extension.content : streamed;
        const basis = Array.isArray(chunk.basis) ? chunk.basis : [];
        const annotations = Array.isArray(delta.annotations) ? delta.annotations : [];
        const numbers = sourceNumbers(content, annotations, basis);
        renderSources(basis, numbers, {withFields: !jsonAnswer});
        if (jsonAnswer) renderJson(content, basis, numbers); else renderText(content, annotations);
        const total = ((performance.now() - started) / 1000).toFixed(2);
        const ttft = firstToken === null ? "–" : (firstToken / 1000).toFixed(2);
        const usage = chunk.usage ? ` · ${chunk.usage.total_tokens} tokens` : "";
        $("meta").textContent = `${chunk.model} · first token ${ttft} s · total ${total} s${usage}`;
        $("progressLine").textContent = "";
        $("progressSteps").open = false;
      }
    }
  } catch (e) {
    if (e.name !== "AbortError") $("error").textContent = e.message;
    else $("error").textContent = "Stopped.";
  } finally {
    $("answer").classList.remove("streaming");
    $("go").disabled = false; $("stop").disabled = true; controller = null;
  }
}

// ---------- wiring ----------

function checkSchema() {
  try { JSON.parse($("schema").value); $("schemaError").textContent = ""; }
  catch (e) { $("schemaError").textContent = "not valid JSON: " + e.message; }
  updateShare();
}

function setUp() {
  $("key").value = localStorage.getItem(KEY_STORAGE) || "";
  $("key").addEventListener("change", () => localStorage.setItem(KEY_STORAGE, $("key").value.trim()));
  for (const name of Object.keys(SCHEMA_EXAMPLES)) $("schemaExample").append(el("option", {value: name, textContent: name}));
  $("schema").value = JSON.stringify(SCHEMA_EXAMPLES["Short answer"], null, 2);
  $("schemaExample").addEventListener("change", () => {
    $("schema").value = JSON.stringify(SCHEMA_EXAMPLES[$("schemaExample").value], null, 2);
    checkSchema();
  });
  $("schema").addEventListener("input", checkSchema);
  $("useSchema").addEventListener("change", () => { $("schemaBox").hidden = !$("useSchema").checked; updateShare(); });
  $("question").addEventListener("input", updateShare);
  $("model").addEventListener("change", updateShare);
  $("stop").addEventListener("click", () => controller && controller.abort());
  $("ask").addEventListener("submit", ask);
  for (const button of document.querySelectorAll("button.copy")) {
    button.addEventListener("click", () => copyFrom(button.dataset.copy, button));
  }
  // A shared link (`/?q=question&model=base`) asks at once.
  const params = new URLSearchParams(location.search);
  if (params.get("model") && [...$("model").options].some((o) => o.value === params.get("model"))) {
    $("model").value = params.get("model");
  }
  updateShare();
  if (params.get("q")) {
    $("question").value = params.get("q");
    updateShare();
    $("ask").requestSubmit();
  }
}

setUp();
