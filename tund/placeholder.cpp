// Placeholder so the tund library is never empty.
namespace dialout {}
