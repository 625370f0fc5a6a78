"""Polling with a deadline, for the Python tests (tests/observability, tests/deploy)."""
import time


def wait_for(what, predicate, seconds, interval=0.2):
    """predicate()'s first truthy value, polled every `interval` s; TimeoutError naming `what`
    after `seconds`."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {seconds} s waiting for {what}")
