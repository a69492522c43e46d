/**
 * The drawing canvas: pointer events cover mouse, pen and touch alike. Ink is drawn opaque on a
 * transparent canvas, so the alpha channel is exactly the amount of ink per pixel.
 */
import type { InkImage } from '@tuneserve/client';

export class DrawPad {
  private readonly ctx: CanvasRenderingContext2D;
  private last: { x: number; y: number } | undefined;
  private inked = false;
  /** True while the pad shows a server test digit rather than the user's drawing. */
  private showingSample = false;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly onStroke: () => void = () => {},
  ) {
    this.ctx = canvas.getContext('2d', { willReadFrequently: true })!;
    canvas.addEventListener('pointerdown', (e) => this.down(e));
    canvas.addEventListener('pointermove', (e) => this.move(e));
    for (const type of ['pointerup', 'pointercancel'] as const) canvas.addEventListener(type, () => this.up());
  }

  get isEmpty(): boolean {
    return !this.inked;
  }

  clear(): void {
    this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.inked = false;
  }

  /** The drawing as ink values in [0,1], one per canvas pixel. */
  ink(): InkImage {
    const { width, height } = this.canvas;
    const rgba = this.ctx.getImageData(0, 0, width, height).data;
    const data = new Float32Array(width * height);
    for (let i = 0; i < data.length; i++) data[i] = rgba[i * 4 + 3]! / 255;
    return { width, height, data };
  }

  /** Shows a 28x28 digit enlarged (a test digit from the server); drawing afterwards starts afresh. */
  showDigit(values: ArrayLike<number>): void {
    this.clear();
    const small = document.createElement('canvas');
    small.width = 28;
    small.height = 28;
    const sctx = small.getContext('2d')!;
    const image = sctx.createImageData(28, 28);
    for (let i = 0; i < 784; i++) image.data[i * 4 + 3] = Math.round(255 * (values[i] ?? 0));
    sctx.putImageData(image, 0, 0);
    this.ctx.imageSmoothingEnabled = false;
    this.ctx.drawImage(small, 0, 0, this.canvas.width, this.canvas.height);
    this.showingSample = true;
  }

  private point(e: PointerEvent): { x: number; y: number } {
    const rect = this.canvas.getBoundingClientRect();
    return {
      x: ((e.clientX - rect.left) / rect.width) * this.canvas.width,
      y: ((e.clientY - rect.top) / rect.height) * this.canvas.height,
    };
  }

  private down(e: PointerEvent): void {
    if (e.button !== 0 && e.pointerType === 'mouse') return;
    e.preventDefault();
    if (this.showingSample) {
      this.clear();
      this.showingSample = false;
    }
    // Keep receiving moves when the stroke leaves the pad (capture can fail for synthetic pointers).
    try {
      this.canvas.setPointerCapture(e.pointerId);
    } catch {}
    this.last = this.point(e);
    this.segment(this.last, this.last);
  }

  private move(e: PointerEvent): void {
    if (!this.last) return;
    const events = typeof e.getCoalescedEvents === 'function' ? e.getCoalescedEvents() : [];
    for (const ev of events.length > 0 ? events : [e]) {
      const p = this.point(ev);
      this.segment(this.last, p);
      this.last = p;
    }
  }

  private up(): void {
    if (!this.last) return;
    this.last = undefined;
    this.onStroke();
  }

  private segment(a: { x: number; y: number }, b: { x: number; y: number }): void {
    const ctx = this.ctx;
    ctx.strokeStyle = '#000';
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    // About a tenth of the pad: after the 20 px fit this gives MNIST's 2-3 px strokes.
    ctx.lineWidth = this.canvas.width / 13;
    ctx.beginPath();
    ctx.moveTo(a.x, a.y);
    ctx.lineTo(b.x, b.y);
    ctx.stroke();
    this.inked = true;
  }
}
