// @ts-check
// Every page loads this first (a module, so it runs once the HTML is parsed
// and before the page's own module): the page's keyed text from the catalogue.
import { applyI18n } from './i18n.js';

applyI18n();
