"""The one error type for refusals a user can fix: every service raises it, every view renders it in place."""

from dataclasses import dataclass

from django.contrib import messages


@dataclass(frozen=True)
class Problem:
    """One thing to fix: what is wrong, where on the page (a form field or section name; "" for the
    page as a whole) and, when it is not obvious, what to do about it."""

    message: str
    where: str = ""
    hint: str = ""

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()


class Refused(Exception):
    """The service refused the action and changed nothing; `problems` says what to fix.

    `code` names the kind of refusal for callers that act on it (e.g. "stale_draft",
    "duplicate_dispute"); views never read the message text.
    """

    def __init__(self, *problems: Problem | str, code: str = ""):
        self.problems = [p if isinstance(p, Problem) else Problem(p) for p in problems]
        self.code = code
        super().__init__(" ".join(str(p) for p in self.problems))

    def add_to_form(self, form) -> None:
        """Show the problems in place: on their field where the form has it, else above the form."""
        for problem in self.problems:
            form.add_error(problem.where if problem.where in form.fields else None, str(problem))

    def add_to_messages(self, request) -> None:
        """Show the problems as one error message, for a page that has no form they belong to."""
        messages.error(request, str(self))
