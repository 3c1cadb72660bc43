// Integration tests drive the real engine: creating containers takes seconds, not milliseconds.
jest.setTimeout(120_000);
