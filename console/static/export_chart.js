// eventexport console: the export page's daily chart of exported and rejected rows (_export_chart.html).
// An SVG drawn here from the console's daily.json (the REST API's /exports/{id}/daily numbers): one bar
// per day, exported rows with rejected rows stacked on top, a y axis with round ticks. No library.
(function () {
  "use strict";
  const SVG = "http://www.w3.org/2000/svg";
  const WIDTH = 720, HEIGHT = 240, LEFT = 64, RIGHT = 12, TOP = 12, BOTTOM = 40;

  function node(name, attributes, text) {
    const element = document.createElementNS(SVG, name);
    Object.entries(attributes).forEach(([key, value]) => element.setAttribute(key, value));
    if (text !== undefined) element.textContent = text;
    return element;
  }

  function niceStep(max) {
    const rough = max / 4;
    const power = Math.pow(10, Math.floor(Math.log10(rough)));
    return [1, 2, 5, 10].map((m) => m * power).find((step) => step >= rough);
  }

  const count = (n) => Number(n).toLocaleString("en-US");

  function draw(plot, days) {
    const top = Math.max(1, ...days.map((d) => d.exported + d.rejected));
    const step = niceStep(top);
    const ceiling = Math.ceil(top / step) * step;
    const inner = { w: WIDTH - LEFT - RIGHT, h: HEIGHT - TOP - BOTTOM };
    const y = (value) => TOP + inner.h - (value / ceiling) * inner.h;
    const slot = inner.w / days.length;
    const bar = Math.max(1, Math.min(40, slot * 0.7));
    const svg = node("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", class: "chart",
      "aria-label": `Exported and rejected rows per day, ${days[0].date} to ${days[days.length - 1].date}` });
    for (let tick = 0; tick <= ceiling; tick += step) {
      svg.append(node("line", { x1: LEFT, x2: WIDTH - RIGHT, y1: y(tick), y2: y(tick), class: "grid" }));
      svg.append(node("text", { x: LEFT - 6, y: y(tick) + 4, class: "tick", "text-anchor": "end" }, count(tick)));
    }
    const every = Math.ceil(days.length / 10);   // at most ten date labels
    days.forEach((day, i) => {
      const x = LEFT + slot * i + (slot - bar) / 2;
      const group = node("g", { class: "day", "data-date": day.date, "data-exported": day.exported,
        "data-rejected": day.rejected });
      group.append(node("title", {}, `${day.date}: ${count(day.exported)} exported, ${count(day.rejected)} rejected` +
        (day.runs ? ` (${day.runs} run${day.runs === 1 ? "" : "s"})` : " (no Done run)")));
      group.append(node("rect", { x, width: bar, y: y(day.exported), height: y(0) - y(day.exported), class: "bar-exported" }));
      group.append(node("rect", { x, width: bar, y: y(day.exported + day.rejected), height: y(0) - y(day.rejected),
        class: "bar-rejected" }));
      svg.append(group);
      if (i % every === 0) {
        svg.append(node("text", { x: x + bar / 2, y: HEIGHT - BOTTOM + 16, class: "tick", "text-anchor": "middle" },
          day.date.slice(5)));
      }
    });
    plot.replaceChildren(svg);
  }

  document.querySelectorAll("[data-export-chart]").forEach(async (section) => {
    const note = section.querySelector("[data-chart-note]");
    try {
      const response = await fetch(section.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      const answer = await response.json();
      if (!response.ok) throw new Error(answer.error || response.statusText);
      if (!answer.days.length) {
        note.textContent = "No run of this export is Done yet: the chart starts with the first.";
        return;
      }
      const total = (key) => answer.days.reduce((sum, day) => sum + day[key], 0);
      note.textContent = `${count(total("exported"))} rows exported and ${count(total("rejected"))} rejected over ` +
        `${answer.days.length} day${answer.days.length === 1 ? "" : "s"} (UTC, by the day each window starts).`;
      draw(section.querySelector("[data-chart-plot]"), answer.days);
      section.querySelector("[data-chart-legend]").hidden = false;
    } catch (error) {
      note.textContent = `The chart could not be loaded: ${error.message}`;
    }
  });
})();
