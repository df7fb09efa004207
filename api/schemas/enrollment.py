"""Enrollments, bookings, feedback and the waitlist."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from api.schemas.base import Out, Query
from api.schemas.sessions import SessionOut
from rooms.model import SessionStatus

__all__ = [
    "BookingList",
    "BookingOut",
    "BookingQuery",
    "EnrollmentList",
    "EnrollmentOut",
    "FeedbackList",
    "FeedbackOut",
    "WaitlistOut",
    "WaitlistPlaceOut",
]


class EnrollmentOut(Out):
    id: str
    sessionId: str
    userId: str
    userName: str
    status: str
    enrolledAt: datetime
    cancelledAt: datetime | None
    paid: bool
    paymentId: str | None
    paymentGateway: str | None
    amountPaid: float | None
    currency: str | None
    refundDue: bool = Field(
        default=False, description="Cancelled with its session after being paid for."
    )
    enrolledCount: int | None = None
    seatsAvailable: int | None = None


class EnrollmentList(Out):
    enrollments: list[EnrollmentOut]
    total: int


class BookingOut(Out):
    enrollment: EnrollmentOut
    session: SessionOut


class BookingList(Out):
    bookings: list[BookingOut]
    total: int
    limit: int
    offset: int
    page: int
    totalPages: int


class BookingQuery(Query):
    status: SessionStatus | None = None
    limit: int = Field(default=20, ge=1, le=100)
    offset: int | None = Field(default=None, ge=0, le=1_000_000)
    page: int | None = Field(default=None, ge=1, le=100_000)

    def resolved_offset(self) -> int:
        if self.page is not None:
            return (self.page - 1) * self.limit
        return self.offset or 0


class FeedbackOut(Out):
    sessionId: str
    userId: str
    rating: int
    comment: str | None
    updatedAt: datetime


class FeedbackList(Out):
    sessionId: str
    count: int = Field(description="Ratings given (by everyone).")
    average: float | None = Field(description="Average rating (by everyone); null without any.")
    feedback: list[FeedbackOut] = Field(
        description="Every rating for the instructor and admins; the caller's own otherwise."
    )


class WaitlistPlaceOut(Out):
    id: str
    sessionId: str
    userId: str
    userName: str
    position: int = Field(description="1 is next in line.")
    joinedAt: datetime


class WaitlistOut(Out):
    sessionId: str
    waiting: list[WaitlistPlaceOut] = Field(
        description="Everyone waiting, in order, for the instructor and admins; the caller's "
        "own place otherwise."
    )
