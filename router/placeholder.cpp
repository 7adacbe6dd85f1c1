// Placeholder translation unit until the router sources land.
namespace dialout {}
