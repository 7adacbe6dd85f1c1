// Daemon entry point: being written (see docs/internals.md).
int main() { return 1; }
