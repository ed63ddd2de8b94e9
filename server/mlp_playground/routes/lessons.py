"""REST routes for the lessons: ``GET /api/lessons`` and ``GET /api/lessons/{lesson_id}``.

The lessons are static data validated once at load (``mlp_playground.classroom.lessons``), so these
routes only copy them out. The page fetches a lesson, shows a step's text and applies its
``config`` (a complete ``/train`` body) to the live session on entering the step.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from mlp_playground.classroom.lessons import get_lesson, lesson_list, lessons

router = APIRouter()
lessons()  # load and validate now: a broken lesson stops the app from starting, not a class


class Text(BaseModel):
    """The same text in English and French."""

    en: str
    fr: str


class LessonSummary(BaseModel):
    id: str
    title: Text
    steps: int = Field(description="the number of steps")


class LessonStep(BaseModel):
    title: Text
    text: Text = Field(description="what to look at and why (2 to 4 sentences)")
    config: dict[str, Any] = Field(description="a complete /train body, applied on entering")
    instrument: dict[str, Any] | None = Field(
        default=None,
        description="the instrument to open: {kind, ...} (mlp_playground.classroom.lessons)",
    )
    claim: dict[str, Any] | None = Field(
        default=None, description="what the step shows, checked by the tests"
    )


class Lesson(BaseModel):
    id: str
    title: Text
    steps: list[LessonStep]


@router.get("/api/lessons", response_model=list[LessonSummary])
def list_lessons() -> JSONResponse:
    """Every lesson: its id, title and number of steps."""
    return JSONResponse(lesson_list())


@router.get(
    "/api/lessons/{lesson_id}",
    response_model=Lesson,
    responses={404: {"description": "no lesson with this id"}},
)
def read_lesson(lesson_id: str) -> JSONResponse:
    """One lesson with all its steps (titles and texts in English and French, configs)."""
    lesson = get_lesson(lesson_id)
    if lesson is None:
        known = ", ".join(lessons()) or "none"
        raise HTTPException(404, f"unknown lesson {lesson_id!r}; the lessons are: {known}")
    return JSONResponse(lesson)
