"""The English questions, in two wordings (the second for a re-ask), and the read-back of what
was collected."""

from __future__ import annotations

from voicedial.interview.state import InterviewState, Job, sorted_jobs

__all__ = ["question"]


def _job_ref(job: Job | None) -> str:
    if job is None:
        return "that job"
    if job.company:
        return f"at {job.company}"
    if job.title:
        return f"as a {job.title}"
    return "that job"


def question(state: InterviewState, variant: int) -> str:
    """The question for `state.asking`; variant 1 says it in other words."""
    job = state.draft
    current = bool(job and job.current)
    ref = _job_ref(job)
    last = state.jobs[-1] if state.jobs else None
    gap = state.next_gap()
    options: dict[str, tuple[str, str]] = {
        "consent": (
            "Is it okay if I ask you a few questions about your work history?",
            "May I go ahead with a few short questions about your work history? "
            "Please say yes or no.",
        ),
        "name": (
            "To start, may I have your full name?",
            "Could you tell me your first and last name, please?",
        ),
        "job": (
            "What is your current job? Please tell me your job title and the company you work for."
            if current
            else "What was that job? Please tell me the job title and the company.",
            "What do you do for work right now, and who is your employer? If you're not "
            "working at the moment, just say so."
            if current
            else "What was your position, and which company was it with?",
        ),
        "title": (
            f"What is your job title {ref}?" if current else f"What was your job title {ref}?",
            f"What kind of work do you do {ref}?"
            if current
            else f"What kind of work did you do {ref}?",
        ),
        "company": (
            f"Which company do you work for as a {job.title if job else 'worker'}?"
            if current
            else f"Which company did you work for as a {job.title if job else 'worker'}?",
            "What's the name of your employer?"
            if current
            else "What was the name of that employer?",
        ),
        "start": (
            f"What year did you start working {ref}?",
            "Roughly what year did you begin that job? An estimate is fine.",
        ),
        "end": (
            f"And what year did you leave your job {ref}?",
            "In what year did that job end? An estimate is fine.",
        ),
        "more": (
            _more_question(state, last),
            "Did you work anywhere before that? If so, what was the job and the "
            "company? If not, just say no.",
        ),
        "gap": (
            f"What were you doing between {gap.start_year} and {gap.end_year}?" if gap else "",
            f"Between {gap.start_year} and {gap.end_year} I don't have "
            "any job recorded. Were you working, studying, caring for family, or doing "
            "something else?"
            if gap
            else "",
        ),
        "skills": (
            "Do you have any skills, licences or certifications you'd like to mention, "
            "such as a driver's licence, forklift certification or first aid?",
            "Any licences, certificates or special skills? You can say none.",
        ),
        "readback": (
            f"Let me read back what I have. {_summary(state)} Is that correct?",
            "Is everything I just read correct? Please say yes, or tell me what to change.",
        ),
        "correction": (
            "What should I correct?",
            "Please tell me what's wrong, for example, I started in 2012.",
        ),
    }
    return options.get(state.asking, ("", ""))[variant]


def _more_question(state: InterviewState, last: Job | None) -> str:
    if last is None:
        return "What was your most recent job? Please tell me the job title and the company."
    return (
        f"Before your job {_job_ref(last)}, did you have another job? If so, "
        "what was the job title and the company? If not, just say no."
    )


def _years_text(job: Job) -> str:
    if job.current:
        return f", since {job.start_year}" if job.start_year else ""
    if job.start_year and job.end_year:
        return f" from {job.start_year} to {job.end_year}"
    if job.start_year:
        return f" starting in {job.start_year}"
    return f" until {job.end_year}" if job.end_year else ""


def _job_text(job: Job) -> str:
    title = f"a {job.title}" if job.title else "working"
    company = f" at {job.company}" if job.company else ""
    return f"{title}{company}{_years_text(job)}"


def _summary(state: InterviewState) -> str:
    parts = []
    if state.name:
        parts.append(f"Your name is {state.name}.")
    jobs = sorted_jobs(state)
    current = [j for j in jobs if j.current]
    past = [j for j in jobs if not j.current]
    if current:
        parts.append(f"You currently work as {_job_text(current[0])}.")
    if past:
        lead = "Before that, you worked as " if current else "You worked as "
        parts.append(lead + "; then ".join(_job_text(j) for j in past[:3]) + ".")
    if state.skills:
        parts.append(f"Your skills include {', '.join(state.skills[:4])}.")
    return " ".join(parts)
