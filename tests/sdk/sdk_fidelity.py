"""The fake WaveSpeed's fidelity, checked by a real client: WaveSpeed's official Python
SDK (PyPI `wavespeed`) uploads a file and runs Kling V1 AI Multi-Shot against the fake,
in direct mode with a key. Run by `make test-sdk` in a throwaway virtualenv."""

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KEY = "sk-sdk-fidelity"
results = []


def check(name, condition, detail=""):
    results.append(bool(condition))
    print(("ok   " if condition else "FAIL ") + name + (f" ({detail})" if detail and not condition else ""))


def main():
    fake = subprocess.Popen(
        [os.path.join(ROOT, "target/debug/fake-wavespeed"), "--port", "0", "--key", KEY],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        base = fake.stdout.readline().strip().replace("listening on ", "")
        from wavespeed import Client

        client = Client(api_key=KEY, base_url=base)
        image = os.path.join(ROOT, "target/fixtures/valid.jpg")
        url = client.upload(image)
        check("upload returns a download URL", url.startswith(base + "/media/"), url)
        with urllib.request.urlopen(url) as served:
            check("the uploaded file is served back", served.read() == open(image, "rb").read())

        output = client.run("kwaivgi/kling-v1/ai-multi-shot", {"image": url}, poll_interval=0.2)
        outputs = output.get("outputs", [])
        check("run completes with three shots", len(outputs) == 3, outputs)
        with urllib.request.urlopen(outputs[0]) as shot:
            check("the first shot is an mp4", shot.read()[4:8] == b"ftyp")

        bad = Client(api_key="sk-wrong", base_url=base, max_connection_retries=0)
        try:
            bad.run("kwaivgi/kling-v1/ai-multi-shot", {"image": url})
            check("a wrong key is refused", False, "no error")
        except Exception as error:  # the SDK raises RuntimeError
            check("a wrong key is refused", "401" in str(error), str(error))

        refused = urllib.request.Request(
            base + "/api/v3/kwaivgi/kling-v1/ai-multi-shot",
            data=b"{}",
            headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        )
        try:
            urllib.request.urlopen(refused)
            check("a submit without image is refused", False, "accepted")
        except urllib.error.HTTPError as error:
            check("a submit without image is refused", error.code == 400, error.code)

        with urllib.request.urlopen(base + "/__fake/log") as log:
            entries = json.load(log)
        kinds = [e.get("kind") for e in entries]
        check("the SDK used the ticket upload and the PUT", "upload-ticket" in kinds and "upload-put" in kinds, kinds)
        accepted = [e for e in entries if e.get("kind") == "submit" and e.get("status") == 200]
        check("one accepted submit", len(accepted) == 1, kinds)
        refused_logged = [e for e in entries if e.get("kind") == "submit" and e.get("status") == 400]
        check("the refused submit is logged as refused", len(refused_logged) == 1, kinds)
    finally:
        fake.kill()

    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
