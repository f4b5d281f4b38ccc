// An accessibility check of the page in the browser (WCAG 2.1 AA, the parts
// a script can decide): returns a list of problems, empty when none.
//  - the document has a language and a title, and one <h1>;
//  - every visible form control has a label (<label for>, a wrapping
//    <label>, aria-label or aria-labelledby);
//  - every button and link has an accessible name;
//  - every image has alt text;
//  - every table's header cells are <th>, with scope in <thead>;
//  - every visible text has a contrast ratio of at least 4.5:1 against
//    the background it is drawn on (3:1 for large text);
//  - no positive tabindex (keyboard order follows the document);
//  - no duplicate ids (labels and ARIA references point at one element).
return (function () {
  var problems = [];
  function describe(el) {
    var text = (el.id ? "#" + el.id : el.tagName.toLowerCase()) +
      (el.className && typeof el.className === "string" ? "." + el.className.split(" ").join(".") : "");
    return text + " \"" + (el.textContent || el.value || "").trim().slice(0, 40) + "\"";
  }
  function visible(el) {
    var style = getComputedStyle(el);
    var rect = el.getBoundingClientRect();
    return style.visibility !== "hidden" && style.display !== "none" &&
      rect.width > 0 && rect.height > 0 && rect.right > 0 && rect.bottom > 0;
  }
  function name(el) {
    var label = el.getAttribute("aria-label") || "";
    var by = el.getAttribute("aria-labelledby");
    if (by) { by.split(" ").forEach(function (id) { var t = document.getElementById(id); if (t) { label += t.textContent; } }); }
    if (el.labels) { for (var i = 0; i < el.labels.length; i++) { label += el.labels[i].textContent; } }
    return label.trim();
  }
  var ids = {};
  document.querySelectorAll("[id]").forEach(function (el) {
    if (ids[el.id]) { problems.push("duplicate id " + el.id); }
    ids[el.id] = true;
  });
  if (!document.documentElement.lang) { problems.push("the document has no lang"); }
  if (!document.title.trim()) { problems.push("the document has no title"); }
  if (document.querySelectorAll("h1").length !== 1) { problems.push("expected one h1, found " + document.querySelectorAll("h1").length); }
  document.querySelectorAll("input, select, textarea").forEach(function (el) {
    if (el.type === "hidden" || !visible(el)) { return; }
    if (!name(el)) { problems.push("unlabelled control " + describe(el)); }
  });
  document.querySelectorAll("button, a[href]").forEach(function (el) {
    if (!visible(el)) { return; }
    var text = (el.textContent || "").trim() || el.getAttribute("aria-label") || el.getAttribute("title");
    if (!text) { problems.push("no accessible name: " + describe(el)); }
  });
  document.querySelectorAll("img").forEach(function (el) {
    if (!el.hasAttribute("alt")) { problems.push("image without alt: " + el.src); }
  });
  document.querySelectorAll("table").forEach(function (table) {
    if (!table.querySelector("th")) { problems.push("table without header cells: " + describe(table)); }
    table.querySelectorAll("thead th").forEach(function (th) {
      if (!th.getAttribute("scope")) { problems.push("header cell without scope: " + describe(th)); }
    });
  });
  document.querySelectorAll("[tabindex]").forEach(function (el) {
    if (parseInt(el.getAttribute("tabindex"), 10) > 0) { problems.push("positive tabindex: " + describe(el)); }
  });
  function rgba(text) {
    var m = text.match(/rgba?\(([^)]+)\)/);
    if (!m) { return null; }
    var p = m[1].split(",").map(function (v) { return parseFloat(v); });
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  }
  function background(el) {
    for (var node = el; node && node.nodeType === 1; node = node.parentElement) {
      var c = rgba(getComputedStyle(node).backgroundColor);
      if (c && c.a > 0.5) { return c; }
    }
    return { r: 255, g: 255, b: 255, a: 1 };
  }
  function luminance(c) {
    function channel(v) { v = v / 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }
    return 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
  }
  var seen = new Set();
  var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    var node = walker.currentNode;
    if (!node.textContent.trim()) { continue; }
    var el = node.parentElement;
    if (!el || seen.has(el) || !visible(el)) { continue; }
    seen.add(el);
    var style = getComputedStyle(el);
    var fg = rgba(style.color);
    if (!fg) { continue; }
    var bg = background(el);
    var a = luminance(fg), b = luminance(bg);
    var ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    var size = parseFloat(style.fontSize);
    var bold = parseInt(style.fontWeight, 10) >= 700;
    var large = size >= 24 || (bold && size >= 18.66);
    var needed = large ? 3 : 4.5;
    if (ratio < needed) {
      problems.push("contrast " + ratio.toFixed(2) + " < " + needed + ": " + describe(el) +
        " (" + style.color + " on rgb(" + bg.r + "," + bg.g + "," + bg.b + "))");
    }
  }
  return problems;
})();
