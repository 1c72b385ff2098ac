"""Check results for people (console), programs (JSON) and CI systems (JUnit XML)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from lab.verify.result import CheckResult
from lab.verify.steps import STEP_KINDS


def print_result(console: Console, result: CheckResult) -> None:
    mark = "[green]PASS[/green]" if result.passed else "[red]FAIL[/red]"
    if result.kind in STEP_KINDS and result.passed:
        mark = "[cyan]STEP[/cyan]"  # a change to the lab, not a judgement
    console.print(
        f"{mark} {escape(result.title)}: {escape(result.summary)} [dim]{result.seconds:.2f} s[/dim]"
    )
    if result.diagnosis:
        console.print(f"     [yellow]why:[/yellow] {escape(result.diagnosis)}")


def print_summary(console: Console, lab: str, results: list[CheckResult], raw_dir: Path) -> None:
    failed = sum(not r.passed for r in results)
    colour = "red" if failed else "green"
    console.print(
        f"[{colour}]{len(results) - failed} passed, {failed} failed[/{colour}] "
        f"(lab {lab}; raw outputs in {raw_dir})"
    )


def json_data(lab: str, results: list[CheckResult], raw_dir: Path) -> dict[str, object]:
    return {"lab": lab, "raw_dir": str(raw_dir), "checks": [r.to_dict() for r in results]}


def write_json(path: Path, lab: str, results: list[CheckResult], raw_dir: Path) -> None:
    """`lab check --json FILE`: the same document as `lab check --output json` prints."""
    from lab.output import dumps

    path.write_text(dumps("check", **json_data(lab, results, raw_dir)))


def write_junit(path: Path, lab: str, results: list[CheckResult]) -> None:
    suite = ET.Element(
        "testsuite",
        name=f"lab-check.{lab}",
        tests=str(len(results)),
        failures=str(sum(not r.passed for r in results)),
        time=f"{sum(r.seconds for r in results):.3f}",
    )
    for result in results:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"{lab}.{result.kind}",
            name=result.title,
            time=f"{result.seconds:.3f}",
        )
        if not result.passed:
            failure = ET.SubElement(case, "failure", message=result.summary)
            failure.text = result.diagnosis or result.summary
        out = ET.SubElement(case, "system-out")
        out.text = json.dumps(result.evidence, default=str)
    ET.ElementTree(suite).write(path, encoding="unicode", xml_declaration=True)
