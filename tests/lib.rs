//! Empty: this package exists for its integration tests in `tests/api/`.
