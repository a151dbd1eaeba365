// The mini-program's entry (rule N1). Nothing global: each page reads the
// binding from storage (lib/link.js), so a restarted mini-program carries on.
App({});
