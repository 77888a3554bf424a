// softphone.js: the entry module of both pages. It registers
// <rb-softphone>; inside a CRM's iframe it also starts the postMessage
// bridge (embed.js, docs/widget-api.md). With ?test=1 in the URL it loads
// the hooks the browser tests read (test-hooks.js).

import { RbSoftphoneElement } from './softphone-element.js';
import { EmbedBridge, allowedOrigins } from './embed.js';

RbSoftphoneElement.define();

const phoneEl = /** @type {RbSoftphoneElement|null} */ (document.querySelector('rb-softphone'));
let bridge = null;
if (phoneEl?.phone && window.parent !== window) {
  bridge = new EmbedBridge(phoneEl.phone, allowedOrigins());
  bridge.start();
}
if (new URLSearchParams(location.search).has('test') && phoneEl) {
  import('./test-hooks.js').then((m) => m.install(phoneEl, bridge));
}
