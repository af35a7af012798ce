// The game page: the server decides the outcome (POST, JSON); this script only animates it.
// Without JavaScript the form posts normally and the page shows the server's result.
(function () {
  "use strict";
  const form = document.getElementById("play-form");
  if (!form || !window.fetch) return;
  const game = document.querySelector("[data-game]").dataset.game;
  const resultBox = document.getElementById("result");
  const playsLeft = document.querySelector("[data-testid=plays-left]");
  const text = JSON.parse(document.getElementById("i18n").textContent);
  let busy = false;
  let turns = 0;

  function showResult(result) {
    resultBox.hidden = false;
    resultBox.replaceChildren();
    const line = document.createElement("p");
    if (result.won) {
      line.className = "win";
      line.textContent = text.won.replace("__LABEL__", result.label);
      resultBox.append(line);
      const link = document.createElement("a");
      link.className = "voucher-link";
      link.href = result.voucher.url;
      const img = document.createElement("img");
      img.src = result.voucher.qr_svg_url;
      img.width = 180;
      img.height = 180;
      img.alt = text.qr;
      link.append(img, document.createElement("br"), text.open);
      resultBox.append(link);
    } else {
      line.className = "lose";
      line.textContent = result.label || text.lose;
      resultBox.append(line);
    }
    playsLeft.textContent = result.plays_left;
    form.querySelectorAll("button").forEach((b) => { b.disabled = result.plays_left <= 0; });
  }

  function showRefusal(message) {
    resultBox.hidden = false;
    resultBox.replaceChildren(Object.assign(document.createElement("p"), { className: "refusal", textContent: message }));
  }

  // Keyboard and screen-reader users land somewhere useful after a play (the result itself is
  // read out by the live region): the button they pressed if it can be pressed again, else the
  // won voucher's link, else the result.
  function refocus(pressed) {
    const again = pressed && !pressed.disabled ? pressed : form.querySelector("button:enabled");
    const target = again || resultBox.querySelector("a") || resultBox;
    target.focus();
  }

  function spin(result) {
    const wheel = document.getElementById("wheel");
    const n = Number(wheel.dataset.slices);
    const slice = 360 / n;
    const landing = result.position === null ? 0 : result.position;
    turns += 5;
    // The pointer is at the top: bring the middle of the landing slice under it.
    const angle = turns * 360 + (360 - (landing + 0.5) * slice);
    wheel.style.transition = "transform 3.2s cubic-bezier(.17,.67,.21,1)";
    wheel.style.transform = "rotate(" + angle + "deg)";
    wheel.dataset.landed = String(landing);
    return new Promise((resolve) => setTimeout(resolve, 3300));
  }

  function scratch(result) {
    const canvas = document.getElementById("scratch-canvas");
    const under = document.getElementById("scratch-under");
    under.textContent = result.won ? text.won.replace("__LABEL__", result.label) : (result.label || text.lose);
    const ctx = canvas.getContext("2d");
    ctx.globalCompositeOperation = "source-over";
    ctx.fillStyle = "#b8b8b8";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.globalCompositeOperation = "destination-out";
    return new Promise((resolve) => {
      let scratched = 0;
      function rub(event) {
        const box = canvas.getBoundingClientRect();
        const point = event.touches ? event.touches[0] : event;
        const x = (point.clientX - box.left) * (canvas.width / box.width);
        const y = (point.clientY - box.top) * (canvas.height / box.height);
        ctx.beginPath();
        ctx.arc(x, y, 18, 0, Math.PI * 2);
        ctx.fill();
        scratched += 1;
        if (scratched > 25) { finish(); }
      }
      function finish() {
        canvas.removeEventListener("pointermove", rub);
        canvas.removeEventListener("touchmove", rub);
        ctx.clearRect(0, 0, canvas.width, canvas.height);
        resolve();
      }
      canvas.addEventListener("pointermove", rub);
      canvas.addEventListener("touchmove", rub, { passive: true });
      canvas.addEventListener("dblclick", finish, { once: true });
    });
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;
    busy = true;
    const data = new FormData(form);
    if (event.submitter && event.submitter.name) data.set(event.submitter.name, event.submitter.value);
    form.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    try {
      const response = await fetch(form.action, { method: "POST", body: data, headers: { Accept: "application/json" } });
      const body = await response.json();
      if (!response.ok) {
        showRefusal(body.error.message);
        refocus(null);
        return;
      }
      if (game === "spin_wheel") await spin(body);
      else if (game === "scratch_card") await scratch(body);
      else if (event.submitter) event.submitter.classList.add("opened");
      showResult(body);
      refocus(event.submitter);
    } catch (error) {
      form.submit();  // fall back to the plain form post
    } finally {
      busy = false;
    }
  });
})();
