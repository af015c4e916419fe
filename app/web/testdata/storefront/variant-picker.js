// The variant picker of the test product page, cut down from Dawn's (global.js, VariantSelects and
// VariantRadios). On an option change it finds the variant, replaces ?variant= in the URL with
// history.replaceState, sets the product form's hidden id input and dispatches a bubbling change
// on it, updates the buy button, and publishes 'variant-change' through pubsub.js. Like Dawn, it
// leaves the id input's disabled attribute as Liquid rendered it (disabled for a sold-out variant).
class VariantPicker extends HTMLElement {
  constructor() {
    super();
    this.addEventListener('change', () => this.onVariantChange());
  }

  onVariantChange() {
    const selects = this.querySelectorAll('select');
    const options = selects.length
      ? Array.from(selects, (select) => select.value)
      : Array.from(this.querySelectorAll('fieldset'), (fieldset) => fieldset.querySelector('input:checked').value);
    const variants = JSON.parse(this.querySelector('script[type="application/json"]').textContent);
    const variant = variants.find((v) => v.options.every((option, i) => option === options[i]));
    const section = this.dataset.section;
    if (variant) {
      window.history.replaceState({}, '', `${this.dataset.url}?variant=${variant.id}`);
      const form = document.getElementById(`product-form-${section}`);
      const input = form.querySelector('input[name="id"]');
      input.value = variant.id;
      input.dispatchEvent(new Event('change', { bubbles: true }));
      const button = form.querySelector('[name="add"]');
      button.disabled = !variant.available;
      button.textContent = variant.available ? window.variantStrings.addToCart : window.variantStrings.soldOut;
    }
    publish(PUB_SUB_EVENTS.variantChange, { data: { sectionId: section, html: null, variant } });
  }
}

customElements.define('variant-picker', VariantPicker);
