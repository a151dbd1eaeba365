// The exam centre: the signed-in candidate's papers, grouped by class (rule C1).
import { mountPapers } from '/static/js/papers.js';
import { signedIn } from '/static/js/page-session.js';

await signedIn();
await mountPapers(document.getElementById('papers'), { grouped: true });
