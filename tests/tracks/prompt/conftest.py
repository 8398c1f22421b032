from prompt_cases import tiny_root  # noqa: F401 - the shared fixture
