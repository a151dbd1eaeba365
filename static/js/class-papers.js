// The exam centre: the signed-in candidate's papers, grouped by class (rule C1).
import { mountPapers } from './papers.js';
import { signedIn } from './page-session.js';

await signedIn();
await mountPapers(document.getElementById('papers'), { grouped: true });
