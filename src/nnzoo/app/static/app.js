// The nnzoo playground: each form posts its fields to /api/ACTION and the answer is drawn below it.
// Everything shown from the server or the user goes in through textContent or an image's src, never as HTML.
"use strict";

// Which task's models fill each form's "model" list.
const FORM_TASK = {
  translate: "translate", write: "charlm", classify: "classify-images", latent_walk: "gan",
  denoise: "denoise", segment: "segment", forecast: "forecast",
};

async function post(action, args) {
  const response = await fetch(`/api/${action}`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(args),
  });
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.error || `${response.status} ${response.statusText}`);
  return answer;
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function image(src, caption) {
  const figure = element("figure");
  const img = element("img");
  img.src = src;
  img.alt = caption;
  figure.append(img, element("figcaption", caption));
  return figure;
}

function table(headers, rows) {
  const t = element("table");
  const head = t.createTHead().insertRow();
  for (const h of headers) head.append(element("th", h));
  const body = t.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    for (const cell of row) tr.append(cell instanceof Node ? wrap("td", cell) : element("td", cell));
  }
  return t;
}

function wrap(tag, child) {
  const node = element(tag);
  node.append(child);
  return node;
}

function fields(form) {
  const args = {};
  for (const input of form.querySelectorAll("input, select")) {
    if (input.type === "file" || !input.name) continue;
    args[input.name] = input.type === "number" ? Number(input.value) : input.value;
  }
  return args;
}

// Runs an action for a pane (a tab, or a column of one): clears its error line, shows the failure's one line.
async function run(pane, action, args, draw) {
  const error = pane.querySelector(".error");
  error.textContent = "";
  pane.classList.add("busy");
  try {
    draw(await post(action, args));
  } catch (failure) {
    error.textContent = failure.message;
  } finally {
    pane.classList.remove("busy");
  }
}

// --- attention maps ---------------------------------------------------------------------------------------------
function attentionTable(title, map) {
  const box = element("div", null, "map");
  box.append(element("h3", title));
  if (!map) {
    box.append(element("p", "This model has no attention: the whole input reaches its decoder as one vector."));
    return box;
  }
  const t = element("table", null, "heat");
  const head = t.createTHead().insertRow();
  head.append(element("th", ""));
  for (const symbol of map.inputs) head.append(element("th", symbol));
  map.weights.forEach((row, i) => {
    const tr = t.insertRow();
    tr.append(element("th", map.outputs[i]));
    row.forEach((weight, j) => {
      const td = element("td");
      td.style.backgroundColor = `rgba(31, 119, 180, ${weight})`;
      td.title = `${map.outputs[i]} ← ${map.inputs[j]}: ${weight.toFixed(3)}`;
      tr.append(td);
    });
  });
  box.append(t);
  return box;
}

function showAttention(pane, title, map) {
  pane.querySelector(".attention").replaceChildren(attentionTable(title, map));
}

// --- each action's answer, drawn into its pane ----------------------------------------------------------------
const DRAW = {
  pronounce(pane, answer) {
    const models = answer.words[0].models.map((m) => m.name);
    const rows = answer.words.map((word) => [
      word.word,
      ...word.models.map((m) => {
        const list = element("ol", null, "nbest");
        for (const o of m.outputs) {
          const li = element("li");
          li.append(element("span", o.text, "phonemes"), element("span", ` ${o.log_prob.toFixed(2)}`, "score"));
          list.append(li);
        }
        list.tabIndex = 0;
        list.title = "show where this model looked";
        list.addEventListener("click", () => showAttention(pane, `${m.name}: ${word.word}`, m.attention));
        return list;
      }),
    ]);
    pane.querySelector(".result").replaceChildren(table(["word", ...models], rows));
    const first = answer.words[0].models.find((m) => m.attention) || answer.words[0].models[0];
    showAttention(pane, `${first.name}: ${answer.words[0].word}`, first.attention);
  },
  translate(pane, answer) {
    const list = element("ol", null, "nbest");
    for (const o of answer.outputs) {
      const li = element("li");
      li.append(element("span", o.text, "translation"), element("span", ` ${o.log_prob.toFixed(2)}`, "score"));
      list.append(li);
    }
    pane.querySelector(".result").replaceChildren(list);
    showAttention(pane, answer.name, answer.attention);
  },
  write(pane, answer) {
    pane.querySelector(".result").textContent = answer.text;
  },
  tag(pane, answer) {
    const ok = answer.models.filter((m) => m.words);
    const words = ok.length ? ok[0].words.map((w) => w.word) : [];
    const rows = words.map((word, i) => [word, ...ok.map((m) => m.words[i].tag + (m.words[i].known ? "" : " (unseen word)"))]);
    const result = pane.querySelector(".result");
    result.replaceChildren(table(["word", ...ok.map((m) => m.name)], rows));
    for (const m of answer.models.filter((m) => m.error)) result.append(element("p", `${m.name}: ${m.error}`, "note"));
  },
  classify(pane, answer) {
    const rows = answer.probabilities.map(([label, p]) => {
      const bar = element("div", null, "bar");
      bar.style.width = `${Math.round(p * 200)}px`;
      return [label, bar, `${(100 * p).toFixed(1)} %`];
    });
    pane.querySelector(".result").replaceChildren(table(["class", "", "probability"], rows));
  },
  latent_walk(pane, answer) {
    const row = answer.images.map((src, i) => image(src, `${i + 1}`));
    pane.querySelector(".result").replaceChildren(...row);
  },
  denoise(pane, answer) {
    showImages(pane, answer, { input: "noisy input", output: "denoised", truth: "clean original" });
  },
  segment(pane, answer) {
    showImages(pane, answer, { input: "scene", output: "predicted classes", truth: "true classes" });
    const legend = answer.classes.map(([name, colour]) => {
      const item = element("span", name, "swatch");
      item.style.borderLeftColor = colour;
      return item;
    });
    pane.querySelector(".legend").replaceChildren(...legend);
  },
  forecast(pane, answer) {
    drawForecast(pane.querySelector("canvas.chart"), answer);
    const rows = answer.forecast.map((value, h) => [
      `+${h + 1}`, value.toFixed(2), answer.baseline[h].toFixed(2), h < answer.actual.length ? answer.actual[h].toFixed(2) : "–",
    ]);
    pane.querySelector(".result").replaceChildren(table(["step", answer.name, answer.baseline_name, "actual"], rows));
  },
};

// An image-to-image answer: the input and the truth (a test image's only) beside the model's output, captioned.
function showImages(pane, answer, captions) {
  const shown = ["input", "output", "truth"].filter((key) => answer[key]).map((key) => image(answer[key], captions[key]));
  pane.querySelector(".result").replaceChildren(...shown);
}

// --- the forecast chart -----------------------------------------------------------------------------------------
function drawForecast(canvas, answer) {
  const context = canvas.getContext("2d");
  const { width, height } = canvas;
  const pad = { left: 60, right: 20, top: 30, bottom: 30 };
  const n = answer.history.length;
  const steps = answer.forecast.length;
  const all = [...answer.history, ...answer.actual, ...answer.forecast, ...answer.baseline];
  const low = Math.min(...all);
  const high = Math.max(...all);
  const x = (t) => pad.left + ((width - pad.left - pad.right) * t) / (n + steps - 1);
  const y = (v) => height - pad.bottom - ((height - pad.top - pad.bottom) * (v - low)) / (high - low || 1);
  context.clearRect(0, 0, width, height);
  context.font = "12px sans-serif";
  context.fillStyle = "#333";
  context.fillText(`${answer.series} (${answer.unit})`, pad.left, 16);
  context.fillText(high.toFixed(1), 4, y(high) + 4);
  context.fillText(low.toFixed(1), 4, y(low));
  const line = (values, start, colour, dashed) => {
    context.beginPath();
    context.strokeStyle = colour;
    context.lineWidth = 2;
    context.setLineDash(dashed ? [6, 4] : []);
    values.forEach((v, i) => (i ? context.lineTo(x(start + i), y(v)) : context.moveTo(x(start + i), y(v))));
    context.stroke();
  };
  const last = answer.history[n - 1];
  line(answer.history, 0, "#888", false);
  line([last, ...answer.actual], n - 1, "#000", false);
  line([last, ...answer.baseline], n - 1, "#ff7f0e", true);
  line([last, ...answer.forecast], n - 1, "#1f77b4", false);
  const legend = [["history", "#888"], ["actual", "#000"], [answer.name, "#1f77b4"], [answer.baseline_name, "#ff7f0e"]];
  let left = width - pad.right - 420;
  for (const [label, colour] of legend) {
    context.fillStyle = colour;
    context.fillRect(left, 8, 14, 4);
    context.fillStyle = "#333";
    context.fillText(label, left + 18, 14);
    left += 24 + context.measureText(label).width;
  }
}

// --- the sketch pad ----------------------------------------------------------------------------------------------
function sketchPad(canvas) {
  const context = canvas.getContext("2d");
  const clear = () => {
    context.fillStyle = "#000";
    context.fillRect(0, 0, canvas.width, canvas.height);
  };
  clear();
  let drawing = false;
  const at = (event) => {
    const box = canvas.getBoundingClientRect();
    return [((event.clientX - box.left) * canvas.width) / box.width, ((event.clientY - box.top) * canvas.height) / box.height];
  };
  canvas.addEventListener("pointerdown", (event) => {
    drawing = true;
    context.beginPath();
    context.moveTo(...at(event));
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!drawing) return;
    context.strokeStyle = "#fff";
    context.lineWidth = 18;
    context.lineCap = context.lineJoin = "round";
    context.lineTo(...at(event));
    context.stroke();
  });
  for (const end of ["pointerup", "pointerleave"]) canvas.addEventListener(end, () => (drawing = false));
  return clear;
}

// The drawing as the classifier's input: cropped to what was drawn, its longer side scaled to the model's size
// and centred, as nnzoo reads an image file; rows of grey levels in [0, 1].
function sketchPixels(canvas, size = 28) {
  const { width, height } = canvas;
  const data = canvas.getContext("2d").getImageData(0, 0, width, height).data;
  let [top, left, bottom, right] = [height, width, -1, -1];
  for (let r = 0; r < height; r++)
    for (let c = 0; c < width; c++)
      if (data[4 * (r * width + c)] > 20) {
        top = Math.min(top, r); bottom = Math.max(bottom, r);
        left = Math.min(left, c); right = Math.max(right, c);
      }
  const small = document.createElement("canvas");
  small.width = small.height = size;
  const context = small.getContext("2d");
  context.fillStyle = "#000";
  context.fillRect(0, 0, size, size);
  if (bottom >= 0) {
    const w = right - left + 1;
    const h = bottom - top + 1;
    const scale = size / Math.max(w, h);
    context.drawImage(canvas, left, top, w, h, (size - w * scale) / 2, (size - h * scale) / 2, w * scale, h * scale);
  }
  const pixels = context.getImageData(0, 0, size, size).data;
  return Array.from({ length: size }, (_, r) => Array.from({ length: size }, (_, c) => pixels[4 * (r * size + c)] / 255));
}

// --- the denoise and segment examples ---------------------------------------------------------------------------
async function loadExamples(section, task) {
  const form = section.querySelector("form");
  const model = form.elements.model.value;
  const box = section.querySelector(".examples");
  box.replaceChildren(element("p", "Loading the test images…", "note"));
  await run(section, "examples", { model, task }, (answer) => {
    box.replaceChildren(
      ...answer.images.map((src, example) => {
        const button = element("button", null, "example");
        button.type = "button";
        button.title = `test image ${example + 1}`;
        button.append(image(src, `${example + 1}`));
        button.addEventListener("click", () => run(section, task, { model, example }, (a) => DRAW[task](section, a)));
        return button;
      }),
    );
  });
}

function readUpload(input) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(new Error("the file could not be read"));
    reader.readAsDataURL(input.files[0]);
  });
}

// --- set-up -------------------------------------------------------------------------------------------------------
function choose(tab) {
  for (const section of document.querySelectorAll("section.tab")) section.hidden = section.id !== tab;
  for (const button of document.querySelectorAll("#tabs button")) button.setAttribute("aria-selected", button.dataset.tab === tab);
  const section = document.getElementById(tab);
  if ((tab === "denoise" || tab === "segment") && !section.querySelector(".examples").childElementCount) loadExamples(section, tab);
}

function fillModels(form, models) {
  const select = form.elements.model;
  if (!select) return;
  for (const m of models) {
    const option = element("option", m.name);
    option.value = m.name;
    option.title = m.summary;
    select.append(option);
  }
}

// The tag tab's corpora, each with a sentence of its own to start from.
const EXAMPLE_SENTENCES = { apple: "Apple is a great company", "peoples-daily": "我 爱 北京 天安门" };

function fillCorpora(form, models) {
  const select = form.elements.corpus;
  for (const corpus of new Set(models.map((m) => m.data.corpus))) {
    const option = element("option", corpus);
    option.value = corpus;
    select.append(option);
  }
  const follow = () => (form.elements.sentence.value = EXAMPLE_SENTENCES[select.value] || "");
  select.addEventListener("change", follow);
}

// The write tab's fields follow the model: a poem model starts with a form and acrostic heads.
function writeDefaults(form, model) {
  const poems = model && model.data.corpus === "poems";
  form.elements.prompt.value = poems ? "" : "ROMEO:";
  form.elements.poem.value = poems ? "7x4" : "";
  form.elements.acrostic.value = poems ? "春夏秋冬" : "";
}

async function start() {
  const catalog = await post("catalog", {});
  document.getElementById("version").textContent = `nnzoo ${catalog.version}`;
  const nav = document.getElementById("tabs");
  for (const [tab, models] of Object.entries(catalog.tabs)) {
    const button = element("button", tab[0].toUpperCase() + tab.slice(1));
    button.dataset.tab = tab;
    button.addEventListener("click", () => choose(tab));
    nav.append(button);
    const section = document.getElementById(tab);
    for (const form of section.querySelectorAll("form")) {
      const action = form.dataset.action;
      const pane = form.parentElement; // the section, or the draw tab's column
      const own = models.filter((m) => !FORM_TASK[action] || m.task === FORM_TASK[action]);
      if (!own.length) {
        pane.hidden = pane !== section;
        continue;
      }
      fillModels(form, own);
      const byName = Object.fromEntries(own.map((m) => [m.name, m]));
      if (action === "tag") fillCorpora(form, own);
      if (action === "write") {
        writeDefaults(form, own[0]);
        form.elements.model.addEventListener("change", () => writeDefaults(form, byName[form.elements.model.value]));
      }
      if (action === "denoise" || action === "segment") {
        form.elements.model.addEventListener("change", () => loadExamples(section, action));
        form.elements.image.addEventListener("change", async () => {
          const input = form.elements.image;
          if (!input.files.length) return;
          const model = form.elements.model.value;
          run(section, action, { model, image: await readUpload(input) }, (a) => DRAW[action](section, a));
        });
      }
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const args = fields(form);
        if (action === "classify") args.pixels = sketchPixels(document.getElementById("sketch"));
        run(pane, action, args, (answer) => DRAW[action](pane, answer));
      });
    }
  }
  const clear = sketchPad(document.getElementById("sketch"));
  document.querySelector("#draw .clear").addEventListener("click", clear);
  document.getElementById("loading").remove();
  const first = Object.keys(catalog.tabs)[0];
  const wanted = location.hash.slice(1);
  choose(catalog.tabs[wanted] ? wanted : first);
}

document.addEventListener("DOMContentLoaded", () =>
  start().catch((failure) => {
    document.getElementById("loading").textContent = `The playground could not start: ${failure.message}`;
  }),
);
