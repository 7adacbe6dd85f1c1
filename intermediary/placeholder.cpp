// Placeholder translation unit until the intermediary sources land.
namespace dialout {}
