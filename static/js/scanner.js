// The merchant page: scan a voucher's QR (or type its code), check it, redeem it with a second tap.
// The server decides everything; this script reads the camera, posts JSON and shows the cards the
// server renders. Camera decoding: the browser's own BarcodeDetector when it reads QR codes
// (Android, macOS), else the vendored barcode-detector ponyfill (ZXing in WebAssembly).
(function () {
  "use strict";
  const root = document.getElementById("counter");
  if (!root || !window.fetch) return;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const text = JSON.parse(document.getElementById("i18n").textContent);
  const verdictBox = document.getElementById("verdict");
  const cameraStatus = document.getElementById("camera-status");
  const video = document.getElementById("camera");
  const startButton = document.getElementById("start-camera");
  const nextButton = document.getElementById("scan-next");
  const manual = document.getElementById("manual");
  // Other things the scanner reads (a member card): a QR whose URL path, or typed text, is theirs
  // opens their page instead of a voucher check (lixi.plugins add_scan_target).
  const targets = JSON.parse(root.dataset.scanTargets || "[]");
  let paused = false;  // after a scan, until the cashier taps "next": one QR in view is read once
  let busy = false;

  function newKey() {  // crypto.randomUUID needs HTTPS; getRandomValues works on any page
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function post(url, body, idempotencyKey) {
    const headers = { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf };
    if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
    const response = await fetch(url, {
      method: "POST", headers, body: JSON.stringify(body), credentials: "same-origin",
    });
    let data = {};
    try { data = await response.json(); } catch (error) { data = {}; }
    const sessionEnded = response.status === 401 || (data.error && data.error.code === "csrf_failed");
    if (sessionEnded) window.location.reload();  // back to the log-in page
    return data;
  }

  function showMessage(message) {
    const card = document.createElement("div");
    card.className = "verdict verdict-no";
    card.dataset.testid = "verdict";
    card.dataset.valid = "false";
    const line = document.createElement("p");
    line.className = "verdict-line";
    line.textContent = "✗ " + message;
    card.append(line);
    verdictBox.replaceChildren(card);
  }

  function pause() {
    paused = true;
    nextButton.hidden = false;
  }

  function targetFor(raw, typed) {
    for (const target of targets) {
      let path = null;
      try { path = new URL(raw).pathname; } catch (error) { path = null; }
      if (path && path.startsWith(target.prefix)) return target;
      if (typed && target.typed && new RegExp(target.typed).test(raw.trim())) return target;
    }
    return null;
  }

  function openTarget(raw, typed) {
    const target = targetFor(raw, typed);
    if (!target) return false;
    paused = true;
    window.location.assign(target.url + "?code=" + encodeURIComponent(raw.trim()));
    return true;
  }

  async function check(raw) {
    if (busy || openTarget(raw, false)) return;
    busy = true;
    pause();
    // The QR holds the voucher page's URL (…/v/<token>): the server reads the token out of it,
    // the same way it reads a typed short code or a bare token (one parser, vouchers.service).
    const code = raw.trim();
    verdictBox.replaceChildren(Object.assign(document.createElement("p"), { className: "muted", textContent: text.checking }));
    try {
      const data = await post(root.dataset.checkUrl, { code });
      if (data.html) {
        verdictBox.innerHTML = data.html;
        wireRedeem(code);
      } else {
        showMessage((data.error && data.error.message) || text.failed);
      }
    } catch (error) {
      showMessage(text.offline);
    } finally {
      busy = false;
      verdictBox.scrollIntoView({ block: "nearest", behavior: "smooth" });
    }
  }

  function wireRedeem(code) {
    const form = verdictBox.querySelector("form.redeem-form");
    if (!form) return;
    const key = newKey();  // one per verdict: a double tap or a retry after a timeout redeems once
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = form.querySelector("button[type=submit]");
      if (button.disabled || !form.reportValidity()) return;
      button.disabled = true;
      const label = button.textContent;
      button.textContent = text.redeeming;
      const body = { code };
      for (const name of ["amount", "bill_amount"]) {
        const input = form.elements[name];
        if (input && input.value !== "") body[name] = Number(input.value);
      }
      try {
        const data = await post(root.dataset.redeemUrl, body, key);
        if (data.html) {
          verdictBox.innerHTML = data.html;
          if (data.redeemed) {
            refreshToday();
            // Ready for the next customer: the live region reads the result out, focus goes back to
            // the code field (replacing the card would otherwise drop it on <body>).
            manual.reset();
            manual.elements.code.focus();
          } else {
            wireRedeem(code);
            const next = verdictBox.querySelector("form.redeem-form input:not([type=hidden]), form.redeem-form button");
            if (next) next.focus();
          }
        } else {
          button.disabled = false;
          button.textContent = label;
          showInline(form, (data.error && data.error.message) || text.failed);
        }
      } catch (error) {
        button.disabled = false;
        button.textContent = text.retry;  // the same key goes again: never a second redemption
        showInline(form, text.offline);
      }
    });
  }

  function showInline(form, message) {
    let note = form.querySelector(".form-error");
    if (!note) {
      note = Object.assign(document.createElement("p"), { className: "form-error", role: "alert" });
      form.prepend(note);
    }
    note.textContent = message;
  }

  async function refreshToday() {
    try {
      const response = await fetch(root.dataset.todayUrl, { credentials: "same-origin" });
      if (!response.ok) return;
      const holder = document.createElement("div");
      holder.innerHTML = await response.text();
      const fresh = holder.querySelector("#today");
      if (fresh) document.getElementById("today").replaceWith(fresh);
    } catch (error) { /* the list catches up on the next load */ }
  }

  async function makeDetector() {
    if ("BarcodeDetector" in window) {
      try {
        const formats = await window.BarcodeDetector.getSupportedFormats();
        if (formats.includes("qr_code")) return new window.BarcodeDetector({ formats: ["qr_code"] });
      } catch (error) { /* fall back to the ponyfill */ }
    }
    const ponyfill = window.BarcodeDetectionAPI;
    // Our own copy of the decoder, never a CDN.
    ponyfill.prepareZXingModule({
      overrides: {
        locateFile: (path, prefix) => (path.endsWith(".wasm") ? root.dataset.wasmUrl : prefix + path),
      },
    });
    return new ponyfill.BarcodeDetector({ formats: ["qr_code"] });
  }

  async function startCamera() {
    if (!window.isSecureContext) { cameraStatus.textContent = text.needsHttps; return; }
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { cameraStatus.textContent = text.noCamera; return; }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    } catch (error) {
      cameraStatus.textContent = error && error.name === "NotAllowedError" ? text.cameraRefused : text.noCamera;
      startButton.hidden = false;
      return;
    }
    let detector;
    try {
      detector = await makeDetector();
    } catch (error) {
      cameraStatus.textContent = text.scannerFailed;
      return;
    }
    video.srcObject = stream;
    video.hidden = false;
    startButton.hidden = true;
    await video.play().catch(() => {});
    cameraStatus.textContent = text.pointCamera;
    root.dataset.scanner = "ready";
    scanFrames(detector);
  }

  function scanFrames(detector) {
    async function tick() {
      if (!paused && !busy && video.readyState >= 2) {
        try {
          const found = await detector.detect(video);
          if (found.length && !paused) {
            if (navigator.vibrate) navigator.vibrate(60);
            await check(found[0].rawValue);
          }
        } catch (error) { /* a frame the decoder could not read: try the next */ }
      }
      setTimeout(tick, 200);
    }
    tick();
  }

  nextButton.addEventListener("click", () => {
    verdictBox.replaceChildren();
    nextButton.hidden = true;
    paused = false;
    manual.reset();
  });
  manual.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = manual.elements.code.value;
    if (value.trim() && !openTarget(value, true)) check(value);
  });
  startButton.addEventListener("click", startCamera);
  startCamera();
})();
