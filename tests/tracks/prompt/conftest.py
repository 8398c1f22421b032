from prompt_cases import _one_thread, tiny_root  # noqa: F401 - the shared fixtures
