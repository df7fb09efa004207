"""Learning analytics of one session, for its teacher: per student attendance and watch time
(``rooms/attendance.py``), chat messages, poll participation (``rooms/polls.py``), hands
raised and talk time (``rooms/activity.py``).

Sans-I/O: :func:`build` combines what the stores returned. A student is anyone who was in
the room as a guest, or who posted or voted (a REST participant who never joined over
WebSocket still counts). Quiz scores count the launched polls with a correct answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from rooms.activity import Activity
from rooms.attendance import AttendanceReport
from rooms.polls import Poll

__all__ = ["SessionAnalytics", "StudentAnalytics", "build"]


@dataclass(slots=True)
class StudentAnalytics:
    user_id: str
    name: str
    attended: bool = False
    watch_seconds: float = 0.0
    joins: int = 0
    first_joined: datetime | None = None
    last_left: datetime | None = None
    messages: int = 0
    polls_answered: int = 0
    quiz_correct: int = 0
    hands_raised: int = 0
    #: Seconds they were an active speaker (the SFU heard them).
    talk_seconds: float = 0.0


@dataclass(slots=True)
class SessionAnalytics:
    session_id: str
    title: str
    status: str
    #: Launched polls (drafts are not asked yet), and how many of them are quizzes.
    polls: int
    quizzes: int
    students: list[StudentAnalytics] = field(default_factory=list)
    #: Messages by everyone (the teacher's too).
    messages: int = 0

    @property
    def attended(self) -> int:
        return sum(1 for s in self.students if s.attended)

    @property
    def poll_participation(self) -> float:
        """Answers given out of answers possible (students * polls), in percent."""
        possible = len(self.students) * self.polls
        if not possible:
            return 0.0
        answered = sum(s.polls_answered for s in self.students)
        return round(100.0 * answered / possible, 1)

    @property
    def average_watch_seconds(self) -> float:
        if not self.students:
            return 0.0
        return round(sum(s.watch_seconds for s in self.students) / len(self.students), 1)


def build(
    report: AttendanceReport,
    polls: list[Poll],
    messages_by_user: dict[str, tuple[str, int]],
    *,
    teacher_ids: set[str],
    activity: dict[str, Activity] | None = None,
) -> SessionAnalytics:
    """The analytics of ``report``'s session. ``messages_by_user``: user id → (name, count);
    ``teacher_ids``: users who are not students (the instructor, hosts, observers);
    ``activity``: user id → hands raised and talk time (users who were in the room only:
    those without a name elsewhere are left out)."""
    asked = [p for p in polls if p.status != "draft"]
    session = report.session
    out = SessionAnalytics(
        session_id=session.id,
        title=session.title,
        status=session.status,
        polls=len(asked),
        quizzes=sum(1 for p in asked if p.spec.correct is not None),
        messages=sum(count for _, count in messages_by_user.values()),
    )
    students: dict[str, StudentAnalytics] = {}

    def student(user_id: str, name: str) -> StudentAnalytics | None:
        if user_id in teacher_ids:
            return None
        found = students.get(user_id)
        if found is None:
            found = students[user_id] = StudentAnalytics(user_id, name)
        return found

    for user in report.users:
        if user.role != "guest":
            teacher_ids = teacher_ids | {user.user_id}
            continue
        s = student(user.user_id, user.name)
        assert s is not None
        s.attended = user.attended
        s.watch_seconds = user.watch_seconds
        s.joins = len(user.intervals)
        s.first_joined = user.first_joined
        s.last_left = user.last_left
    for user_id, (name, count) in messages_by_user.items():
        s = student(user_id, name)
        if s is not None:
            s.messages = count
    for poll in asked:
        right = poll.spec.correct
        for user_id, ballot in poll.ballots.items():
            s = student(user_id, ballot.name)
            if s is None:
                continue
            s.polls_answered += 1
            if right is not None and ballot.choices == right:
                s.quiz_correct += 1
    for user_id, counted in (activity or {}).items():
        s = students.get(user_id)
        if s is not None:
            s.hands_raised = counted.hands_raised
            s.talk_seconds = counted.talk_seconds
    out.students = sorted(students.values(), key=lambda s: (s.name.casefold(), s.user_id))
    return out
