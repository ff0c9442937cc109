import { escapeHtml, html, SafeHtml, trustedMarkup } from './html';

const HOSTILE = ['<script>window.pwned=1</script>', '" onmouseover="alert(1)', "' autofocus onfocus='x", '=HYPERLINK("http://evil","x")', '../../etc/passwd', '`${x}`', '&lt;already&gt;'];

describe('html (the one escaping point)', () => {
  it('given hostile text, when interpolated, then no markup character survives', () => {
    for (const text of HOSTILE) {
      expect(html`${text}`.markup).not.toMatch(/[<>"'`]/);
      expect(html`<td title="${text}">${text}</td>`.markup.match(/"/g)).toHaveLength(2);
    }
    expect(html`<p>${'<script>x</script>'}</p>`.markup).toBe('<p>&lt;script&gt;x&lt;/script&gt;</p>');
    expect(html`${'&lt;'}`.markup).toBe('&amp;lt;');
  });

  it('given markup made by html, when nested, then it is kept as markup (not escaped twice)', () => {
    const inner = html`<b>${'<i>'}</b>`;
    expect(html`<p>${inner}</p>`.markup).toBe('<p><b>&lt;i&gt;</b></p>');
  });

  it('given arrays, numbers and empty values, then arrays are joined and null/undefined/false render nothing', () => {
    expect(html`${['<a>', html`<br>`, 3]}|${null}|${undefined}|${false}|${0}`.markup).toBe('&lt;a&gt;<br>3||||0');
  });

  it('given a SafeHtml only through html or trustedMarkup, then a plain string is never trusted', () => {
    expect(trustedMarkup('<svg></svg>')).toBeInstanceOf(SafeHtml);
    expect(html`${'<svg></svg>'}`.markup).toBe('&lt;svg&gt;&lt;/svg&gt;');
    expect(escapeHtml(`&<>"'\``)).toBe('&amp;&lt;&gt;&quot;&#39;&#96;');
  });
});
