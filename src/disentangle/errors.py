"""The one error type users see: a single line naming the problem and the fix."""


class DisentangleError(Exception):
    """A user-facing error. The CLI prints it on one line without a traceback.

    Messages follow the pattern "<what is wrong>; <what to do about it>", e.g.
    ``"corpus.jsonl line 12: not valid JSON; fix the line or pass --skip-bad"``.
    """
