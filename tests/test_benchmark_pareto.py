"""The benchmark marks the fps/PSNR Pareto front: rows no other row beats on both."""

from animegan_deploy.benchmarks.report import markdown_table, pareto_front


def _row(name, fps, psnr, size=256, threads=2, status="ok"):
    return {"variant": name, "fps": fps, "psnr_db": psnr, "size": size, "threads": threads, "status": status,
            "where": "local", "backend": "x"}


def test_front_keeps_only_undominated_rows():
    rows = [_row("original", 2.0, None), _row("fast", 20.0, 25.0), _row("slow-bad", 3.0, 24.0),
            _row("mid", 10.0, 30.0), _row("mid-worse", 9.0, 29.0), _row("failed", 50.0, 40.0, status="failed"),
            _row("other size", 1.0, 20.0, size=512)]
    assert pareto_front(rows) == {0, 1, 3, 6}


def test_table_marks_the_front():
    table = markdown_table([_row("original", 2.0, None), _row("dominated", 1.0, 20.0)])
    lines = table.splitlines()
    assert lines[2].rstrip().endswith("| yes |") and not lines[3].rstrip().endswith("| yes |")
