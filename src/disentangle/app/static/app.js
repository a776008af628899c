// disentangle web app: one page, four views chosen by the path; all state in the URL.
"use strict";

const view = document.getElementById("view");
let info = null;

// -- helpers ------------------------------------------------------------------------------

/** Build an element; strings become text nodes (never HTML), so corpus text is safe. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

async function api(path, signal) {
  const response = await fetch(path, { signal });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = Array.isArray(body.detail)
      ? body.detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ")
      : body.detail || response.statusText;
    throw new Error(detail);
  }
  return body;
}

function debounce(fn, ms) {
  let timer = null;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

const fmt = (x, digits = 3) => (x === null || x === undefined ? "–" : Number(x).toFixed(digits));
const pct = (x) => (x >= 0.01 ? `${(100 * x).toFixed(1)}%` : `${(100 * x).toPrecision(2)}%`);

/** A feature's display name: its label (keywords beside it, muted), else "#id" plus its
 * strongest document's title. */
function featureName(f) {
  if (f.label) {
    return h("span", { class: "fname" }, f.label,
      f.keywords && f.keywords.length ? h("span", { class: "keywords" }, ` · ${f.keywords.join(", ")}`) : null);
  }
  return h("span", { class: "fname unlabelled", title: f.hint || "" },
    `#${f.feature}`, f.hint ? h("span", { class: "hint" }, ` ${f.hint}`) : null);
}

function featureLink(f, extra = null) {
  return h("a", { class: "feature-link", href: `/feature/${f.feature}` },
    featureName(f), extra);
}

function navigate(url) {
  history.pushState(null, "", url);
  route();
}

function message(text, kind = "note") {
  return h("div", { class: `message ${kind}` }, text);
}

// -- search -------------------------------------------------------------------------------

const state = { params: new URLSearchParams(), controller: null, dragging: false, showAll: false };
const SLIDERS_SHOWN = 10;

function editsOf(name) {
  // feature/family id -> edit string, in URL order
  const map = new Map();
  for (const text of state.params.getAll(name)) map.set(text.split(":")[0], text);
  return map;
}

function setEdits(name, map) {
  state.params.delete(name);
  for (const text of map.values()) state.params.append(name, text);
}

function setEdit(name, id, text) {
  const map = editsOf(name);
  if (text === null) map.delete(String(id)); else map.set(String(id), text);
  setEdits(name, map);
  scheduleSearch();
}

function searchView() {
  state.params = new URLSearchParams(location.search);
  const p = state.params;
  const query = h("input", { type: "search", id: "q", name: "q", value: p.get("q") || "",
    placeholder: "Search abstracts, e.g. dark matter halos of dwarf galaxies",
    autocomplete: "off", maxlength: info ? info.limits.query_chars : 1000 });
  const years = h("input", { id: "year", placeholder: "years, e.g. 2012-2016", value: p.get("year") || "", size: 14 });
  const cats = h("input", { id: "cat", placeholder: "categories, e.g. astro-ph.GA", value: p.getAll("cat").join(", "), size: 18 });
  const k = h("select", { id: "k" }, [10, 20, 50].map((n) =>
    h("option", { value: n, selected: String(n) === (p.get("k") || "10") }, `${n} results`)));
  const mode = h("select", { id: "mode", title: "How edits become a query vector" },
    (info ? info.modes : ["residual"]).map((m) =>
      h("option", { value: m, selected: m === (p.get("mode") || "residual") }, m)));
  const defaultBlend = info ? info.default_blend : 0.15;
  const blend = h("input", { id: "blend", type: "number", min: 0, max: info ? info.limits.blend : 2,
    step: 0.05, value: p.get("blend") || defaultBlend, size: 5,
    title: "Blend: score a hit gains (loses) per unit of a raised (lowered) feature it carries; 0 moves the query vector only" });
  const submit = (event) => {
    event.preventDefault();
    const text = query.value.trim();
    if (!text) return;
    const changed = text !== p.get("q");
    p.set("q", text);
    if (changed) { p.delete("e"); p.delete("fe"); state.showAll = false; }
    p.delete("cat");
    for (const c of cats.value.split(",").map((s) => s.trim()).filter(Boolean)) p.append("cat", c);
    years.value.trim() ? p.set("year", years.value.trim()) : p.delete("year");
    k.value === "10" ? p.delete("k") : p.set("k", k.value);
    mode.value === "residual" ? p.delete("mode") : p.set("mode", mode.value);
    Number(blend.value) === defaultBlend ? p.delete("blend") : p.set("blend", blend.value);
    runSearch();
  };
  const form = h("form", { class: "searchbar", onsubmit: submit },
    h("div", { class: "row" }, query, h("button", { type: "submit", class: "primary" }, "Search")),
    h("div", { class: "row filters" }, years, cats, k, mode,
      h("label", { class: "blend", for: "blend" }, "blend ", blend)));
  const layout = h("div", { class: "search-layout" },
    h("section", { id: "results", class: "results" }, intro()),
    h("aside", { id: "steer", class: "steer" }));
  view.replaceChildren(form, layout);
  if (p.get("q")) runSearch(); else query.focus();
}

function intro() {
  return h("div", { class: "intro" },
    h("h2", {}, "Steer semantic search with interpretable features"),
    h("p", {}, "Every abstract and every query is a handful of sparse-autoencoder features. ",
      "Search, then raise, lower or zero the query's features with the sliders, or add any ",
      "feature by name. Each result shows which shared features made it match."),
    info && !info.has_labels ? message("Features are not labelled yet (run `disentangle interpret`); " +
      "they are shown by id and the title of their strongest abstract.") : null);
}

const scheduleSearch = debounce(() => runSearch(), 250);

async function runSearch() {
  const p = state.params;
  history.replaceState(null, "", `/?${p.toString()}`);
  if (state.controller) state.controller.abort();
  state.controller = new AbortController();
  const results = document.getElementById("results");
  results.classList.add("loading");
  try {
    const data = await api(`/api/search?${p.toString()}`, state.controller.signal);
    renderResults(data);
    if (!state.dragging) renderSteer(data);
  } catch (error) {
    if (error.name === "AbortError") return;
    results.replaceChildren(message(error.message, "error"));
  } finally {
    results.classList.remove("loading");
  }
}

function renderResults(data) {
  const results = document.getElementById("results");
  const summary = h("div", { class: "summary" },
    `${data.hits.length} results`,
    data.edits.length ? h("span", { class: "drift" },
      " · steered: ",
      h("span", { title: "drift: cosine between the steered and the original query (1 = unmoved)" },
        `drift ${fmt(data.drift, 2)}`),
      " · ",
      h("span", { title: "blend: score per unit of edit that a hit carrying an edited feature gains or loses" },
        `blend ${fmt(data.blend, 2)}: feature terms give ${Math.round(100 * data.boost_share)}% of the score`),
      " · ",
      h("span", { title: "the feature terms re-rank only this many of the steered query's nearest abstracts" },
        data.pool ? `among its ${data.pool} nearest (${data.pool_rule} pool)` : "over the whole corpus"))
      : null);
  if (!data.hits.length) {
    results.replaceChildren(summary, message("No abstract passes these filters."));
    return;
  }
  results.replaceChildren(summary, ...data.hits.map(hitCard));
}

function hitCard(hit) {
  const top = hit.explanation.slice(0, 5);
  const largest = Math.max(1e-9, ...top.map((c) => Math.abs(c.contribution)));
  return h("article", { class: "hit" },
    h("div", { class: "hit-head" },
      h("h3", {}, hit.title),
      h("span", { class: "score", title: hit.boost ? `cosine ${fmt(hit.similarity)} + feature term ${fmt(hit.boost)}` : "cosine score" },
        fmt(hit.score), hit.boost ? h("small", { class: hit.boost > 0 ? "boost up" : "boost down" }, ` ${hit.boost > 0 ? "+" : ""}${fmt(hit.boost, 2)}`) : null)),
    h("div", { class: "meta" },
      hit.year ? h("span", {}, hit.year) : null,
      ...hit.categories.slice(0, 4).map((c) => h("span", { class: "tag" }, c)),
      h("span", { class: "arxiv" }, hit.id)),
    h("p", { class: "snippet" }, hit.snippet),
    h("div", { class: "why" },
      h("span", { class: "why-label" }, "Why: "),
      top.length ? top.map((c) => h("a", {
        class: "chip", href: `/feature/${c.feature}`,
        title: `query ${fmt(c.query_activation)} × document ${fmt(c.hit_activation)} = ${fmt(c.contribution)}`,
      }, h("span", { class: "bar", style: `width:${Math.round(40 * Math.abs(c.contribution) / largest)}px` }),
      c.label || `#${c.feature}`, h("b", {}, ` +${fmt(c.contribution)}`)))
        : h("span", { class: "muted" }, "no shared features"),
      h("span", { class: "muted other", title: "score not attributed to shared features" },
        ` other ${fmt(hit.other)}`)));
}

function renderSteer(data) {
  const aside = document.getElementById("steer");
  // The strongest features and every edited one; the long tail of weak ones on request.
  const visible = data.sliders.filter((s, i) => state.showAll || i < SLIDERS_SHOWN || s.edited);
  const hidden = data.sliders.length - visible.length;
  const sliders = visible.map(sliderRow);
  if (hidden) sliders.push(h("button", { class: "link", onclick: () => { state.showAll = true; renderSteer(data); } },
    `show ${hidden} weaker features`));
  const families = data.family_sliders.map(familyRow);
  aside.replaceChildren(
    h("div", { class: "panel-head" }, h("h2", {}, "Query features"),
      data.edits.length || state.params.getAll("fe").length
        ? h("button", { class: "link", onclick: () => { state.params.delete("e"); state.params.delete("fe"); runSearch(); } }, "reset all")
        : null),
    h("p", { class: "muted small" }, "Drag to raise or lower; 0 removes a feature."),
    h("div", { class: "sliders" }, sliders),
    addFeatureBox(),
    families.length ? h("div", {}, h("h2", {}, "Families"),
      h("p", { class: "muted small" }, "Left lowers every member, right raises them."),
      h("div", { class: "sliders" }, families))
      : info && !info.has_families ? h("p", { class: "muted small" },
        "No families yet (run `disentangle families build`).") : null);
}

function sliderRow(s) {
  const max = Math.max(1.5 * s.typical, 2 * s.original, s.value, 1e-3);
  const value = h("output", {}, fmt(s.value));
  const input = h("input", { type: "range", min: 0, max: max.toFixed(4), step: (max / 200).toFixed(5),
    value: s.value.toFixed(5), "aria-label": s.label || `feature ${s.feature}`, "data-feature": s.feature });
  input.addEventListener("pointerdown", () => { state.dragging = true; });
  input.addEventListener("pointerup", () => { state.dragging = false; scheduleSearch(); });
  input.addEventListener("input", () => {
    const v = Number(input.value);
    value.textContent = fmt(v);
    row.classList.add("edited");
    setEdit("e", s.feature, v <= 0 ? `${s.feature}:off` : `${s.feature}:${v.toFixed(4)}`);
  });
  const row = h("div", { class: `slider${s.edited ? " edited" : ""}${s.original === 0 ? " added" : ""}` },
    h("div", { class: "slider-head" }, featureLink(s), value),
    h("div", { class: "slider-body" }, input,
      h("button", { class: "icon", title: "remove from the query", onclick: () => setEdit("e", s.feature, `${s.feature}:off`) }, "0"),
      h("button", { class: "icon", title: "undo this edit", disabled: !s.edited, onclick: () => setEdit("e", s.feature, null) }, "↺")));
  return row;
}

function familyStrength(text) {
  if (!text) return 0;
  const value = text.split(":").slice(1).join(":");
  if (value === "off" || value === "0") return -1;
  if (value.startsWith("x")) return Number(value.slice(1)) - 1;
  if (value.startsWith("up")) return Number(value.slice(2) || 1);
  return 0;
}

function familyRow(f) {
  const current = familyStrength(editsOf("fe").get(String(f.family)));
  const value = h("output", {}, current.toFixed(2));
  const input = h("input", { type: "range", min: -1, max: 1, step: 0.05, value: current,
    "aria-label": `family ${f.family}`, "data-family": f.family });
  input.addEventListener("pointerdown", () => { state.dragging = true; });
  input.addEventListener("pointerup", () => { state.dragging = false; scheduleSearch(); });
  input.addEventListener("input", () => {
    const v = Number(input.value);
    value.textContent = v.toFixed(2);
    const text = v === 0 ? null : v <= -1 ? `${f.family}:off` : v < 0 ? `${f.family}:x${(1 + v).toFixed(2)}` : `${f.family}:up${v.toFixed(2)}`;
    setEdit("fe", f.family, text);
  });
  return h("div", { class: `slider family${current ? " edited" : ""}` },
    h("div", { class: "slider-head" },
      h("span", {}, f.label || h("span", { class: "unlabelled" }, "family of ", featureName(f.parent_name)),
        h("span", { class: "muted small" }, ` · ${f.size + 1} features`)), value),
    h("div", { class: "slider-body" }, input));
}

function addFeatureBox() {
  const input = h("input", { type: "search", id: "add-feature", autocomplete: "off",
    placeholder: info && info.has_labels ? "Add a feature by label…" : "Add a feature: id or title words…" });
  const list = h("ul", { class: "suggestions", role: "listbox" });
  const lookup = debounce(async () => {
    const text = input.value.trim();
    if (!text) { list.replaceChildren(); return; }
    try {
      const found = await api(`/api/features/lookup?q=${encodeURIComponent(text)}&limit=8`);
      const items = [
        ...found.features.map((f) => h("li", { role: "option", onclick: () => {
          setEdit("e", f.feature, `${f.feature}:up1`); list.replaceChildren(); input.value = "";
        } }, featureName(f), h("span", { class: "muted small" }, ` ${pct(f.density)}`))),
        ...found.families.map((f) => h("li", { role: "option", onclick: () => {
          setEdit("fe", f.family, `${f.family}:up0.5`); list.replaceChildren(); input.value = "";
        } }, h("span", { class: "tag" }, "family"), ` ${f.label}`)),
      ];
      list.replaceChildren(...(items.length ? items : [h("li", { class: "muted" }, "no match")]));
    } catch (error) {
      list.replaceChildren(h("li", { class: "error" }, error.message));
    }
  }, 200);
  input.addEventListener("input", lookup);
  return h("div", { class: "add-feature" }, input, list);
}

// -- feature page ---------------------------------------------------------------------------

// The interpretability scores worth a tile; features.parquet holds more (see the API).
const SCORES = ["pearson", "f1", "pearson_balanced", "f1_balanced", "topic_coherence", "top_fit", "clean"];

async function featureView(id) {
  view.replaceChildren(message("Loading feature…"));
  let f;
  try { f = await api(`/api/features/${id}`); } catch (error) {
    view.replaceChildren(message(error.message, "error")); return;
  }
  document.title = `${f.label || `#${f.feature}`} · disentangle`;
  const scores = SCORES.filter((key) => f.scores[key] !== undefined && f.scores[key] !== null)
    .map((key) => [key.replace("_", " "), f.scores[key]]);
  const tiles = [
    ["density", pct(f.density)], ["active in", `${f.active_documents.toLocaleString()} abstracts`],
    ["mean activation", fmt(f.mean_activation)], ["max activation", fmt(f.max_activation)],
    ...scores.map(([key, v]) => [key, typeof v === "number" ? fmt(v) : String(v)]),
  ];
  const list = (items, extra) => items.length
    ? h("ol", { class: "flist" }, items.map((x) => h("li", {}, featureLink(x), h("span", { class: "num" }, extra(x)))))
    : h("p", { class: "muted" }, "none");
  view.replaceChildren(
    h("div", { class: "feature-head" },
      h("div", {}, h("div", { class: "muted small" }, `Feature #${f.feature}`),
        h("h1", {}, f.label || h("span", { class: "unlabelled" }, "Unlabelled feature")),
        f.keywords && f.keywords.length ? h("p", { class: "keywords" }, `Keywords: ${f.keywords.join(", ")}`) : null,
        f.scores.lexical ? h("p", { class: "muted" }, "Lexical: its top abstracts share this word, not a topic.") : null,
        f.scores.mixed && f.label && !f.label.startsWith("mixed:") ? h("p", { class: "muted" }, "Mixed: its strongest abstracts share a topic; this phrase covers only some of its top abstracts.") : null,
        !f.label ? h("p", { class: "muted" }, "Labels appear after `disentangle interpret`; its strongest abstracts are below.") : null,
        f.scores.evidence ? h("p", { class: "muted small evidence" }, `Evidence: ${f.scores.evidence}`) : null),
      h("a", { class: "button", href: `/?q=${encodeURIComponent(f.label || (f.hint || ""))}&e=${f.feature}:up1` }, "Search with it raised")),
    h("div", { class: "tiles" }, tiles.map(([k, v]) => h("div", { class: "tile" }, h("div", { class: "muted small" }, k), h("div", { class: "tile-value" }, v)))),
    h("div", { class: "grid" },
      h("section", { class: "card wide" }, h("h2", {}, "Activation histogram"),
        histogram(f.histogram),
        h("p", { class: "muted small" }, `Over the ${f.active_documents.toLocaleString()} abstracts where it is active; inactive in ${f.histogram.inactive.toLocaleString()}.`)),
      h("section", { class: "card" }, h("h2", {}, "Family"), familyBlock(f)),
      h("section", { class: "card wide" }, h("h2", {}, "Top abstracts"),
        h("ol", { class: "docs" }, f.top_documents.map((d) => h("li", {},
          h("div", { class: "doc-head" }, h("strong", {}, d.title), h("span", { class: "num" }, fmt(d.activation))),
          h("div", { class: "meta" }, d.year ? h("span", {}, d.year) : null, ...d.categories.slice(0, 3).map((c) => h("span", { class: "tag" }, c))),
          h("p", { class: "snippet" }, d.snippet))))),
      h("section", { class: "card" }, h("h2", {}, "Nearest by decoder cosine"), list(f.similar.nearest, (x) => fmt(x.cosine, 2)),
        h("h3", {}, "Least similar"), list(f.similar.farthest, (x) => fmt(x.cosine, 2))),
      h("section", { class: "card" }, h("h2", {}, "Most co-occurring"),
        list(f.cooccurring, (x) => `${x.together} docs`)),
      h("section", { class: "card" }, h("h2", {}, "In larger SAEs"), splitsBlock(f.splits))));
}

function histogram(hist) {
  const width = 560, height = 160, pad = 24;
  const max = Math.max(1, ...hist.counts);
  const bar = (width - 2 * pad) / hist.counts.length;
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height + 20}`);
  svg.setAttribute("class", "histogram");
  const add = (tag, attrs, text) => {
    const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    if (text !== undefined) el.textContent = text;
    svg.append(el);
  };
  hist.counts.forEach((count, i) => {
    const barHeight = (height - pad) * count / max;
    add("rect", { x: pad + i * bar + 1, y: height - barHeight, width: Math.max(1, bar - 2), height: barHeight, rx: 2 });
    if (count) add("title", {}, `${fmt(hist.edges[i])}–${fmt(hist.edges[i + 1])}: ${count}`);
  });
  add("line", { x1: pad, x2: width - pad, y1: height, y2: height, class: "axis" });
  add("text", { x: pad, y: height + 16 }, "0");
  add("text", { x: width - pad, y: height + 16, "text-anchor": "end" }, fmt(hist.edges[hist.edges.length - 1]));
  add("text", { x: pad, y: 12 }, `${max} docs`);
  return svg;
}

function familyBlock(f) {
  if (!info.has_families) return h("p", { class: "muted" }, "No families yet (run `disentangle families build`).");
  const blocks = [];
  if (f.children.length) blocks.push(h("p", {}, "Parent of ", h("strong", {}, `${f.children.length}`), " direct children:"),
    h("ul", { class: "flist" }, f.children.map((c) => h("li", {}, featureLink(c)))));
  for (const fam of f.families) {
    blocks.push(h("p", {}, h("a", { href: `/families#family-${fam.family}` }, fam.label || `Family ${fam.family}`),
      h("span", { class: "muted small" }, ` · ${fam.size + 1} features · parent `), featureLink(fam.parent_name)));
  }
  return blocks.length ? h("div", {}, blocks) : h("p", { class: "muted" }, "Not in any family.");
}

function splitsBlock(splits) {
  if (!splits.length) return h("p", { class: "muted" }, "No larger SAE in this workspace.");
  return h("div", {}, splits.map((s) => h("div", {},
    h("h3", {}, `${s.sae} (${s.n_features.toLocaleString()} features)`),
    s.features.length ? h("ul", { class: "flist" }, s.features.map((x) => h("li", {},
      h("span", {}, x.label || `#${x.feature}`), h("span", { class: "num" }, fmt(x.cosine, 2)))))
      : h("p", { class: "muted small" }, "No feature there matches this one best."))));
}

// -- families -------------------------------------------------------------------------------

async function familiesView() {
  view.replaceChildren(message("Loading families…"));
  const tree = await api("/api/families");
  if (!tree.available) {
    view.replaceChildren(h("h1", {}, "Families"), message("No families yet: run `disentangle families build` on this workspace."));
    return;
  }
  const node = (n) => h("details", { id: `family-${n.family}`, open: n.depth === 0 && n.children.length < 8 ? true : null },
    h("summary", {}, h("span", { class: "fam-label" }, n.label || h("span", { class: "unlabelled" }, "family of ", featureName(n.parent_name))),
      h("span", { class: "muted small" }, ` ${n.size + 1} features · parent `), featureLink(n.parent_name)),
    n.children.map(node));
  view.replaceChildren(h("h1", {}, "Families"),
    h("p", { class: "muted" }, `${tree.count} families, nested by which family holds their parent feature.`),
    h("div", { class: "tree" }, tree.roots.map(node)));
  if (location.hash) document.querySelector(location.hash)?.setAttribute("open", "");
}

// -- map ------------------------------------------------------------------------------------

const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
  "#ff9da7", "#9c755f", "#3b7dd8", "#8cd17d", "#d37295"];

/** Colours for the most common values; everything rarer is grey. */
function paletteFor(values) {
  const counts = new Map();
  for (const v of values) if (v !== null && v !== undefined && v !== "") counts.set(v, (counts.get(v) || 0) + 1);
  const top = [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, PALETTE.length);
  return new Map(top.map(([v], i) => [v, PALETTE[i]]));
}

async function mapView() {
  view.replaceChildren(message("Loading the feature map…"));
  const data = await api("/api/map");
  const n = data.x.length;
  const colour = h("select", { id: "colour" },
    h("option", { value: "category" }, "colour by arXiv category"),
    h("option", { value: "family", disabled: !info.has_families }, "colour by family"),
    h("option", { value: "cluster" }, "colour by cluster"),
    h("option", { value: "density" }, "colour by density"));
  const search = h("input", { type: "search", id: "map-search", autocomplete: "off",
    placeholder: data.labelled ? "Find features by label…" : "Find features by title words…" });
  const found = h("span", { class: "muted small", id: "map-found" });
  const canvas = h("canvas", { id: "map", width: 1100, height: 680 });
  const tip = h("div", { class: "tooltip", hidden: true });
  const legend = h("div", { class: "legend", id: "map-legend" });
  view.replaceChildren(h("div", { class: "map-head" }, h("h1", {}, "Feature map"),
    h("span", { class: "muted" }, `${n.toLocaleString()} features laid out by ${data.method.toUpperCase()} (${data.space}, cosine), so features about similar things sit together. Click a point to open it.`)),
    h("div", { class: "map-tools" }, search, found, colour),
    h("div", { class: "map-wrap" }, canvas, tip), legend);
  const ctx = canvas.getContext("2d");
  const ratio = window.devicePixelRatio || 1;
  const cssWidth = canvas.clientWidth || 1100, cssHeight = 680;
  canvas.width = cssWidth * ratio; canvas.height = cssHeight * ratio;
  canvas.style.height = `${cssHeight}px`;
  ctx.scale(ratio, ratio);
  const [xmin, xmax] = [Math.min(...data.x), Math.max(...data.x)];
  const [ymin, ymax] = [Math.min(...data.y), Math.max(...data.y)];
  const pad = 24;
  const sx = (x) => pad + (x - xmin) / (xmax - xmin || 1) * (cssWidth - 2 * pad);
  const sy = (y) => pad + (1 - (y - ymin) / (ymax - ymin || 1)) * (cssHeight - 2 * pad);
  const px = data.x.map(sx), py = data.y.map(sy);
  // Density by rank: densities are heavy-tailed, so a linear scale is one colour.
  const rank = new Array(n);
  data.density.map((d, i) => [d, i]).sort((a, b) => a[0] - b[0])
    .forEach(([, i], r) => { rank[i] = r / Math.max(1, n - 1); });
  const familyName = (f) => data.family_labels[String(f)] || `family ${f}`;
  const clusterName = new Map(data.clusters.map((c) => [c.cluster, c.name]));
  const palettes = {
    category: paletteFor(data.category),
    family: paletteFor(data.family),
    cluster: paletteFor(data.cluster.filter((c) => c >= 0)),
  };
  const keyOf = (mode, i) => mode === "category" ? data.category[i] : mode === "family" ? data.family[i] : data.cluster[i];
  const fill = (i) => {
    if (colour.value === "density") return `hsl(${230 - 200 * rank[i]},70%,${55 - 12 * rank[i]}%)`;
    return palettes[colour.value].get(keyOf(colour.value, i)) || "#b8bcc6";
  };
  let matches = null;
  const draw = () => {
    ctx.clearRect(0, 0, cssWidth, cssHeight);
    ctx.globalAlpha = matches ? 0.18 : 0.8;
    for (let i = 0; i < n; i++) {
      ctx.fillStyle = fill(i);
      ctx.beginPath(); ctx.arc(px[i], py[i], 2.6, 0, 2 * Math.PI); ctx.fill();
    }
    ctx.globalAlpha = 1;
    if (matches) {
      for (const i of matches) {
        ctx.fillStyle = fill(i); ctx.strokeStyle = "#111"; ctx.lineWidth = 1.2;
        ctx.beginPath(); ctx.arc(px[i], py[i], 5, 0, 2 * Math.PI); ctx.fill(); ctx.stroke();
      }
    }
    // Cluster names at their medians, largest clusters first so they win overlaps.
    ctx.font = "600 12px system-ui, sans-serif"; ctx.textAlign = "center"; ctx.lineJoin = "round";
    const placed = [];
    for (const c of [...data.clusters].sort((a, b) => b.size - a.size)) {
      const x = sx(c.x), y = sy(c.y), w = ctx.measureText(c.name).width;
      if (placed.some((p) => Math.abs(p.x - x) < (p.w + w) / 2 && Math.abs(p.y - y) < 14)) continue;
      placed.push({ x, y, w });
      ctx.strokeStyle = "rgba(255,255,255,0.9)"; ctx.lineWidth = 4; ctx.strokeText(c.name, x, y);
      ctx.fillStyle = "#1d2433"; ctx.fillText(c.name, x, y);
    }
    const mode = colour.value;
    legend.replaceChildren(...(mode === "density"
      ? [h("span", {}, "blue = rare, orange = dense")]
      : [...palettes[mode].entries()].map(([key, hex]) => h("span", { class: "legend-item" },
        h("i", { style: `background:${hex}` }),
        mode === "category" ? key : mode === "family" ? familyName(key) : clusterName.get(key)))));
  };
  const nearest = (event) => {
    const rect = canvas.getBoundingClientRect();
    const x = event.clientX - rect.left, y = event.clientY - rect.top;
    let best = -1, bestDist = 64;
    for (let i = 0; i < n; i++) {
      const d = (px[i] - x) ** 2 + (py[i] - y) ** 2;
      if (d < bestDist) { best = i; bestDist = d; }
    }
    return { best, x, y };
  };
  canvas.addEventListener("mousemove", (event) => {
    const { best, x, y } = nearest(event);
    tip.hidden = best < 0;
    canvas.style.cursor = best < 0 ? "default" : "pointer";
    if (best >= 0) {
      const extra = [data.category[best], data.cluster[best] >= 0 ? clusterName.get(data.cluster[best]) : null]
        .filter(Boolean).join(" · ");
      tip.textContent = `#${best} ${data.label[best] || ""} · ${pct(data.density[best])}${extra ? ` · ${extra}` : ""}`;
      tip.style.left = `${x + 12}px`; tip.style.top = `${y + 12}px`;
    }
  });
  canvas.addEventListener("mouseleave", () => { tip.hidden = true; });
  canvas.addEventListener("click", (event) => {
    const { best } = nearest(event);
    if (best >= 0) navigate(`/feature/${best}`);
  });
  const find = () => {
    const needle = search.value.trim().toLowerCase();
    matches = needle ? [] : null;
    if (needle) {
      for (let i = 0; i < n; i++) {
        if (String(i) === needle || (data.label[i] || "").toLowerCase().includes(needle)) matches.push(i);
      }
    }
    found.textContent = matches ? `${matches.length} match${matches.length === 1 ? "" : "es"}` : "";
    draw();
  };
  search.addEventListener("input", debounce(find, 120));
  colour.addEventListener("change", draw);
  draw();
}

// -- routing --------------------------------------------------------------------------------

async function route() {
  const path = location.pathname;
  for (const link of document.querySelectorAll("[data-nav]")) {
    const active = (link.dataset.nav === "search" && (path === "/" || path.startsWith("/feature")))
      || path === `/${link.dataset.nav}`;
    link.classList.toggle("active", active);
  }
  document.title = "disentangle";
  try {
    const feature = path.match(/^\/feature\/(\d+)$/);
    if (feature) await featureView(feature[1]);
    else if (path === "/families") await familiesView();
    else if (path === "/map") await mapView();
    else searchView();
  } catch (error) {
    view.replaceChildren(message(error.message, "error"));
  }
  window.scrollTo(0, 0);
}

// Internal links navigate without reloading (the workspace stays loaded in the page).
document.addEventListener("click", (event) => {
  const link = event.target.closest("a[href^='/']");
  if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  navigate(link.getAttribute("href"));
});
window.addEventListener("popstate", route);

(async () => {
  try {
    info = await api("/api/info");
    document.getElementById("sae-info").textContent =
      `${info.sae} · ${info.documents.toLocaleString()} abstracts · ${info.n_features.toLocaleString()} features`;
  } catch (error) {
    view.replaceChildren(message(`The API is not answering: ${error.message}`, "error"));
    return;
  }
  route();
})();
