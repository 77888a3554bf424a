// test-hooks.js: loaded only with ?test=1 (softphone.js). It exposes
// window.rbTest for the browser tests in test/: what the bridge dropped,
// and how loud a frequency is in the far end's audio, measured with a
// WebAudio AnalyserNode on the remote stream. Nothing here changes the
// phone's behaviour.

const AUDIBLE_DB = -60; // dBFS in the analyser's scale

export function install(phoneEl, bridge) {
  let ctx = null;
  let analyser = null;
  let source = null;
  let stream = null;

  function attach() {
    const s = phoneEl.phone.media.remoteStream;
    if (!s || !s.getAudioTracks().length) return false;
    if (s === stream && analyser) return true;
    ctx ??= new AudioContext();
    ctx.resume().catch(() => {});
    source?.disconnect();
    stream = s;
    source = ctx.createMediaStreamSource(s);
    analyser = ctx.createAnalyser();
    analyser.fftSize = 4096;
    analyser.smoothingTimeConstant = 0.5;
    source.connect(analyser);
    return true;
  }

  window.rbTest = {
    phone: phoneEl.phone,
    get dropped() { return bridge?.dropped ?? 0; },
    /** Browser statistics the server accepted (quality.js). */
    get statsSent() { return phoneEl.quality?.sent ?? 0; },
    /**
     * The level of hz in the remote audio against the median of the
     * spectrum, in dB (a clear tone reads 30 dB and more); 0 when it is
     * inaudible; null while there is no remote audio.
     */
    toneRatio(hz) {
      if (!attach()) return null;
      const bins = new Float32Array(analyser.frequencyBinCount);
      analyser.getFloatFrequencyData(bins);
      const width = ctx.sampleRate / analyser.fftSize;
      const at = Math.round(hz / width);
      let peak = -Infinity;
      for (let i = at - 2; i <= at + 2; i++) peak = Math.max(peak, bins[i]);
      const usable = [...bins.slice(2, Math.floor(3400 / width))].filter(Number.isFinite).sort((a, b) => a - b);
      const median = usable[Math.floor(usable.length / 2)];
      // Inaudible is absent: when packets stop, concealment fades the last
      // sound out slowly but keeps its shape.
      if (!Number.isFinite(peak) || !Number.isFinite(median) || peak < AUDIBLE_DB) return 0;
      return peak - median;
    },
    audioState() {
      const pc = phoneEl.phone.media.pc;
      return { pc: pc?.connectionState ?? 'none', ice: pc?.iceConnectionState ?? 'none' };
    },
  };
}
