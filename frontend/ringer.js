// ringer.js: the ringtone. It is synthesised with WebAudio (no sound files
// to serve) into a MediaStream played by its own <audio> element, so it can
// ring on a different device than the call audio (setSinkId).

/** Each tone: cycle length in seconds and the notes of one cycle: [start, length, ...Hz]. */
const TONES = {
  classic: { cycle: 6, notes: [[0, 2, 440, 480]] },
  chirp: { cycle: 2, notes: [[0, 0.18, 880], [0.22, 0.18, 660], [0.44, 0.18, 880]] },
  soft: { cycle: 1.6, notes: [[0, 0.7, 523.25, 659.25]] },
  off: { cycle: 1, notes: [] },
};

export const RINGTONES = [
  ['classic', 'Classic'],
  ['chirp', 'Chirp'],
  ['soft', 'Soft'],
  ['off', 'Silent (screen only)'],
];

export class Ringer {
  #el;
  #ctx = null;
  #dest = null;
  #timer = 0;
  #stopTimer = 0;
  tone = 'classic';
  device = '';

  /** @param {HTMLAudioElement} el */
  constructor(el) {
    this.#el = el;
  }

  get ringing() { return this.#timer !== 0; }

  start() {
    if (this.#timer) return;
    const spec = TONES[this.tone] || TONES.classic;
    const ctx = this.#context();
    if (!ctx) return;
    ctx.resume().catch(() => {});
    let next = ctx.currentTime + 0.05;
    const schedule = () => {
      // Keep about one cycle scheduled ahead; timers in hidden tabs are slow.
      while (next < ctx.currentTime + spec.cycle + 1) {
        for (const [at, len, ...freqs] of spec.notes) this.#note(ctx, next + at, len, freqs);
        next += spec.cycle;
      }
    };
    schedule();
    this.#timer = setInterval(schedule, 500);
    this.#el.play().catch(() => {});
  }

  stop() {
    clearInterval(this.#timer);
    clearTimeout(this.#stopTimer);
    this.#timer = 0;
    // Dropping the context silences whatever was scheduled ahead.
    this.#ctx?.close().catch(() => {});
    this.#ctx = null;
    this.#dest = null;
    this.#el.srcObject = null;
  }

  /** Rings for a moment on the chosen device (a button in the settings). */
  test(ms = 2500) {
    this.stop();
    this.start();
    this.#stopTimer = setTimeout(() => this.stop(), ms);
  }

  #context() {
    if (this.#ctx) return this.#ctx;
    const AC = window.AudioContext || window.webkitAudioContext;
    if (!AC) return null;
    this.#ctx = new AC();
    this.#dest = this.#ctx.createMediaStreamDestination();
    this.#el.srcObject = this.#dest.stream;
    if (typeof this.#el.setSinkId === 'function') this.#el.setSinkId(this.device || '').catch(() => {});
    return this.#ctx;
  }

  #note(ctx, at, len, freqs) {
    const gain = ctx.createGain();
    gain.gain.setValueAtTime(0, at);
    gain.gain.linearRampToValueAtTime(0.2 / freqs.length, at + 0.02);
    gain.gain.setValueAtTime(0.2 / freqs.length, at + len - 0.05);
    gain.gain.linearRampToValueAtTime(0, at + len);
    gain.connect(this.#dest);
    for (const f of freqs) {
      const osc = ctx.createOscillator();
      osc.frequency.value = f;
      osc.connect(gain);
      osc.start(at);
      osc.stop(at + len);
    }
  }
}
