"""jupyter_kernel_test conformance suite for the nemotron-lab TypeScript kernel.

Run by test/kernel-conformance.test.ts with JUPYTER_PATH pointing at a temporary kernelspec.
"""
import unittest

import jupyter_kernel_test


class NemotronLabKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = "nemotron-lab"
    language_name = "typescript"
    file_extension = ".ts"

    code_hello_world = 'console.log("hello, world")'
    code_stderr = 'console.error("some error")'

    completion_samples = [
        {"text": "const zzzAlpha = 1, zzzBeta = 2;\nzzzA", "matches": ["zzzAlpha"]},
        {"text": "Math.PI.toFix", "matches": ["toFixed"]},
        {"text": "[1, 2].inclu", "matches": ["includes"]},
    ]

    complete_code_samples = ["1 + 1", "let x = 5;", "function f(a: number) { return a; }", "for (;;) {}"]
    incomplete_code_samples = ["function f() {", "let a = [1, 2,", "if (true) {\n  console.log(1);", "`template"]
    invalid_code_samples = ["let x = );", "1 +* 2", "}"]

    code_page_something = ""  # no pager in this kernel

    code_generate_error = 'throw new Error("boom")'

    code_execute_result = [
        {"code": "6 * 7", "result": "42"},
        {"code": '"a" + "b"', "result": "'ab'"},
        {"code": "[1, 2, 3].map((x) => x * 2)", "result": "[ 2, 4, 6 ]"},
        {"code": "({ [Symbol.for('Jupyter.display')]() { return { 'text/html': '<b>hi</b>' }; } })", "mime": "text/html", "result": "<b>hi</b>"},
    ]

    code_display_data = [
        {"code": 'display({ "text/html": "<i>x</i>" })', "mime": "text/html"},
        {"code": 'display({ "image/svg+xml": "<svg xmlns=\\"http://www.w3.org/2000/svg\\"/>" })', "mime": "image/svg+xml"},
        {"code": "display(new Map([[1, 2]]))", "mime": "text/plain"},
    ]

    code_history_pattern = "6 * ?"
    supported_history_operations = ("tail", "range", "search")

    code_inspect_sample = "Math.max"

    code_clear_output = 'clearOutput({ wait: false })'


if __name__ == "__main__":
    unittest.main()
