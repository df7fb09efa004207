// A session's learning analytics for its teacher (GET /sessions/{ref}/analytics and .csv).
import { api, el, getAuth, requireAuth, showWho } from "/static/common.js";

const auth = requireAuth();
showWho(auth);
const $ = (id) => document.getElementById(id);
const sessionRef = new URLSearchParams(location.search).get("session") || "";
let rows = [];

function duration(seconds) {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h ? `${h} h ${m} min` : m ? `${m} min ${r} s` : `${r} s`;
}

function render(filter = $("filter").value.trim().toLowerCase()) {
  const shown = rows.filter((r) => !filter || r.name.toLowerCase().includes(filter));
  $("students").tBodies[0].replaceChildren(...shown.map((r) => el("tr", { dataset: { user: r.userId } },
    el("th", { scope: "row" }, r.name),
    el("td", {}, r.attended ? "Yes" : "No"),
    el("td", {}, duration(r.watchTime)),
    el("td", {}, String(r.joins)),
    el("td", {}, String(r.messages)),
    el("td", {}, `${r.pollsAnswered} / ${window.analytics.polls}`),
    el("td", {}, window.analytics.quizzes ? `${r.quizCorrect} / ${window.analytics.quizzes}` : "–"),
    el("td", { dataset: { col: "hands" } }, String(r.handsRaised)),
    el("td", { dataset: { col: "talk", seconds: String(r.talkSeconds) } }, duration(r.talkSeconds)))));
  $("no-students").hidden = rows.length > 0;
}

async function load() {
  try {
    const a = window.analytics = await api(`/sessions/${encodeURIComponent(sessionRef)}/analytics`);
    document.title = `${a.title} · analytics · liveclass`;
    $("title").textContent = `${a.title}: analytics`;
    const figures = [
      ["Students", a.students], ["Attended", a.attended],
      ["Average time in class", duration(a.averageWatchTime)],
      ["Polls asked", a.polls], ["Poll participation", `${a.pollParticipation}%`],
      ["Chat messages", a.messages],
      ["Hands raised", a.perStudent.reduce((n, r) => n + r.handsRaised, 0)],
      ["Students' talk time", duration(a.perStudent.reduce((n, r) => n + r.talkSeconds, 0))],
      ["Class status", a.status],
    ];
    $("figures").replaceChildren(...figures.map(([k, v]) => el("div", {}, el("dt", {}, k), el("dd", {}, String(v)))));
    rows = a.perStudent;
    render();
    $("back").href = `/classroom.html?session=${encodeURIComponent(sessionRef)}`;
    $("summary").hidden = false;
    $("students-panel").hidden = false;
    $("error").hidden = true;
    $("main").dataset.state = "ready";
  } catch (err) {
    $("error").textContent = err.status === 403
      ? "Only the class's teacher sees its analytics."
      : `The analytics could not be loaded: ${err.message}`;
    $("error").hidden = false;
    $("main").dataset.state = "error";
  }
}

$("filter").addEventListener("input", () => render());
$("refresh").addEventListener("click", load);
$("download").addEventListener("click", async () => {
  // The CSV needs the bearer token: fetched, then saved from a blob URL.
  const response = await fetch(`/api/v1/sessions/${encodeURIComponent(sessionRef)}/analytics.csv`, {
    headers: { Authorization: `Bearer ${getAuth().token}` },
  });
  if (!response.ok) {
    $("error").textContent = "The CSV could not be downloaded.";
    $("error").hidden = false;
    return;
  }
  const url = URL.createObjectURL(await response.blob());
  const link = el("a", { href: url, download: `analytics-${sessionRef}.csv` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
});
load();
