"""The server's files and fine-tuning jobs, kept as JSON on disk so they survive a restart."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

__all__ = ["PRIVATE", "State", "public"]

PRIVATE = ("_handle", "_events", "_checkpoints")  # job fields the API never shows


def public(job: dict[str, Any]) -> dict[str, Any]:
    """A job as the API returns it."""
    return {k: v for k, v in job.items() if k not in PRIVATE}


def _write(path: Path, data: Any) -> None:
    """Atomic JSON write: a crash never leaves half a file."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


class State:
    """Files (``files/<id>.json`` + ``.jsonl``) and jobs (``jobs/<id>.json`` with their events)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files_dir, self.jobs_dir = root / "files", root / "jobs"
        self.files_dir.mkdir(parents=True, exist_ok=True)
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self.files: dict[str, dict[str, Any]] = {
            p.stem: json.loads(p.read_text()) for p in self.files_dir.glob("*.json")
        }
        self.jobs: dict[str, dict[str, Any]] = {p.stem: json.loads(p.read_text()) for p in self.jobs_dir.glob("*.json")}

    # ------------------------------------------------------------ files

    def add_file(self, filename: str, purpose: str, content: bytes) -> dict[str, Any]:
        """Store an uploaded file; returns its file object."""
        file_id = f"file-{uuid.uuid4().hex[:24]}"
        meta = {
            "id": file_id,
            "object": "file",
            "bytes": len(content),
            "created_at": int(time.time()),
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
        }
        with self.lock:
            (self.files_dir / f"{file_id}.jsonl").write_bytes(content)
            _write(self.files_dir / f"{file_id}.json", meta)
            self.files[file_id] = meta
        return meta

    def delete_file(self, file_id: str) -> None:
        """Remove a file and its content (jobs that used it keep their own copy of what they trained on)."""
        with self.lock:
            self.files.pop(file_id, None)
            for suffix in (".json", ".jsonl"):
                (self.files_dir / f"{file_id}{suffix}").unlink(missing_ok=True)

    def content(self, file_id: str) -> bytes:
        """A file's bytes."""
        return (self.files_dir / f"{file_id}.jsonl").read_bytes()

    # ------------------------------------------------------------ jobs

    def add_job(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Create a job in ``validating_files``."""
        job_id = f"ftjob-{uuid.uuid4().hex[:24]}"
        job = {
            "id": job_id,
            "object": "fine_tuning.job",
            "created_at": int(time.time()),
            "finished_at": None,
            "fine_tuned_model": None,
            "organization_id": "org-fteval-serve",
            "result_files": [],
            "status": "validating_files",
            "trained_tokens": None,
            "error": None,
            "_events": [],
            **fields,
        }
        with self.lock:
            self.jobs[job_id] = job
            self.event(job_id, f"Created fine-tuning job: {job_id}")
        return job

    def update(self, job_id: str, **fields: Any) -> dict[str, Any]:
        """Change fields of a job and persist it."""
        with self.lock:
            job = self.jobs[job_id]
            job.update(fields)
            _write(self.jobs_dir / f"{job_id}.json", job)
            return job

    def event(self, job_id: str, message: str, level: str = "info", data: dict[str, Any] | None = None) -> None:
        """Append an event to a job."""
        with self.lock:
            job = self.jobs[job_id]
            job["_events"].append(
                {
                    "id": f"ftevent-{uuid.uuid4().hex[:24]}",
                    "object": "fine_tuning.job.event",
                    "created_at": int(time.time()),
                    "level": level,
                    "message": message,
                    "data": data or {},
                    "type": "metrics" if data else "message",
                }
            )
            _write(self.jobs_dir / f"{job_id}.json", job)

    def events(self, job_id: str) -> list[dict[str, Any]]:
        """A job's events, newest first (as the API lists them)."""
        with self.lock:
            return list(reversed(self.jobs[job_id]["_events"]))

    def status(self, job_id: str) -> str:
        """A job's current status."""
        with self.lock:
            return str(self.jobs[job_id]["status"])
