"""The README generator fills the marked blocks from report files."""

import json

from avemo.benchmark.readme import update


def test_blocks_are_filled(tmp_path):
    reports = tmp_path / "reports"
    (reports / "suite").mkdir(parents=True)
    (reports / "suite" / "results.md").write_text("| a | b |\n")
    (reports / "suite" / "summary.json").write_text(json.dumps({"timing": {"jobs": 2, "cpu_count": 2,
                                                                           "extract_seconds": {"x": 1.0},
                                                                           "train_test_seconds": 5.0}}))
    (reports / "speed").mkdir()
    (reports / "speed" / "summary.json").write_text(json.dumps({"clip_seconds": 4.0}))
    (reports / "speed" / "results.md").write_text("| onnx-int8 | 80.5 |\n")
    (reports / "face-speed").mkdir()
    (reports / "face-speed" / "summary.json").write_text(json.dumps({
        "model": "face-fer2013", "tta": "shifts", "engine": "onnx", "frame_size": [640, 480], "clip": "x.mp4",
        "fps": 41.2,
        "ms_per_frame_median": 24.3, "stage_ms_median": {"detect_landmarks": 10.0}, "faces_per_frame": 1.0}))
    readme = tmp_path / "README.md"
    readme.write_text("top\n<!-- report:suite -->\nSTALE TEXT\n<!-- /report:suite -->\n"
                      "<!-- report:speed -->\n<!-- /report:speed -->\n"
                      "<!-- report:face-speed -->\n<!-- /report:face-speed -->\nend\n")
    update(readme, reports)
    text = readme.read_text()
    assert "STALE TEXT" not in text and "| a | b |" in text and "| onnx-int8 | 80.5 |" in text
    assert "41.2 frames per second" in text and "on ONNX Runtime with `shifts` test-time" in text
    assert text.startswith("top\n") and text.endswith("end\n")


def test_multicorpus_extraction_block_sums_the_corpora(tmp_path):
    from avemo.benchmark.readme import render

    for corpus, n, seconds in (("nemo", 4481, 270.0), ("urdu", 400, 30.0)):
        (tmp_path / "extraction-multicorpus" / corpus).mkdir(parents=True)
        (tmp_path / "extraction-multicorpus" / corpus / "summary.json").write_text(json.dumps({
            "corpus": corpus, "n_files": n, "jobs": 2, "total_seconds": seconds, "machine": {"cpu_count": 2}}))
    text = render("extraction-multicorpus", tmp_path)
    assert "4881 clips" in text and "**5.0 minutes**" in text and "nemo 4481 clips 270.0 s" in text
