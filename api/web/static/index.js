// @ts-check
import { api, el, formatTime, requireAuth, showWho } from "/static/common.js";

const auth = requireAuth();
showWho(auth);
const canSchedule = auth.user.role === "instructor" || auth.user.role === "admin";
const errorBox = document.getElementById("error");

function showError(text) {
  errorBox.textContent = text;
  errorBox.hidden = !text;
}

function classroomLink(session, text, secondary = false) {
  return el("a", {
    class: secondary ? "button secondary" : "button",
    href: `/classroom.html?session=${encodeURIComponent(session.id)}`,
  }, text);
}

function card(session) {
  const actions = [];
  if (session.status === "live") {
    if (session.canJoin || session.isInstructor) actions.push(classroomLink(session, session.isInstructor ? "Enter classroom" : "Join"));
  } else if (session.status === "scheduled") {
    if (session.isInstructor || session.canStart) actions.push(classroomLink(session, "Open classroom"));
    else if (session.isEnrolled || (session.isFree && !session.requiresEnrollment)) actions.push(classroomLink(session, "Open", true));
  } else if (session.status === "ended" && (session.isInstructor || session.recordingAvailable)) {
    actions.push(classroomLink(session, "Recordings", true));
  }
  if (session.isInstructor && session.status === "ended") {
    actions.push(el("a", { class: "button secondary", href: `/analytics.html?session=${encodeURIComponent(session.id)}` }, "Analytics"));
  }
  // A live class one can join needs no enrolling first.
  if (session.canEnroll && !(session.status === "live" && session.canJoin)) {
    actions.push(el("button", {
      type: "button", class: "secondary", onclick: async (e) => {
        e.target.disabled = true;
        try {
          await api(`/sessions/${encodeURIComponent(session.id)}/enroll`, { method: "POST" });
          await refresh();
        } catch (err) {
          showError(`Could not enroll: ${err.message}`);
          e.target.disabled = false;
        }
      },
    }, "Enroll"));
  } else if (session.isEnrolled) {
    actions.push(el("span", { class: "badge" }, "enrolled"));
  }
  return el("article", { class: "card session", dataset: { session: session.id, room: session.roomName } },
    el("h3", {}, session.title),
    el("p", { class: "meta" }, el("span", { class: `badge ${session.status}` }, session.status), " ",
      session.instructor.name),
    el("p", { class: "meta" }, session.status === "live"
      ? `${session.activeCount} in the room · ${session.maxParticipants} seats`
      : `${formatTime(session.scheduledStart)} · ${session.enrolledCount} / ${session.maxParticipants} enrolled`),
    el("div", { class: "actions" }, actions),
  );
}

async function load(status, containerId) {
  const data = await api(`/sessions?status=${status}&limit=50`);
  const container = document.getElementById(containerId);
  const cards = data.sessions.map(card);
  container.replaceChildren(...(cards.length ? cards : [el("p", { class: "empty" }, "None.")]));
}

async function refresh() {
  try {
    await Promise.all([load("live", "live"), load("scheduled", "scheduled"), load("ended", "ended")]);
    document.body.dataset.loaded = "true";
    showError("");
  } catch (err) {
    showError(`Could not load the classes: ${err.message}`);
  }
}

if (canSchedule) {
  document.getElementById("create").hidden = false;
  document.getElementById("create-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = new FormData(/** @type {HTMLFormElement} */ (e.target));
    /** @type {{title: FormDataEntryValue, maxParticipants: number, scheduledStart?: string, scheduledEnd?: string}} */
    const body = { title: form.get("title"), maxParticipants: Number(form.get("capacity")) };
    if (form.get("start")) {
      const start = new Date(/** @type {string} */ (form.get("start")));
      body.scheduledStart = start.toISOString();
      body.scheduledEnd = new Date(start.getTime() + 3600_000).toISOString();
    }
    try {
      const session = await api("/sessions", { method: "POST", body });
      location.assign(`/classroom.html?session=${encodeURIComponent(session.id)}`);
    } catch (err) {
      showError(`Could not schedule the class: ${err.message}`);
    }
  });
}

await refresh();
setInterval(refresh, 10000);
