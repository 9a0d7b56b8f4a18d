/**
 * The shop: a generated catalogue (category, colour, sizes, price, rating), a search box, filters, product
 * pages, a cart and a checkout form with validation. Each session has its own catalogue, cart and orders;
 * the order records are what `web/shop-v0` verifies.
 */
import { Rng } from '../../../core/rng.js';
import { escapeHtml, layout, notFound, type Site, type SiteRequest, type SiteResponse } from './server.js';

export interface Product {
  id: number;
  name: string;
  /** Category key, e.g. `shirt` (shown as "Shirts"). */
  category: string;
  colour: string;
  /** Price in cents. */
  price: number;
  /** Average rating, one decimal, 1.0 to 5.0. */
  rating: number;
  reviews: number;
  /** Sizes in stock. */
  sizes: string[];
  description: string;
}

export interface CartLine {
  productId: number;
  size: string;
  quantity: number;
}

/** Who an order goes to and how it ships (`shipping` is a key of SHIPPING). */
export interface ShippingDetails {
  name: string;
  email: string;
  address: string;
  city: string;
  postcode: string;
  shipping: string;
}

/** What checkout records: the cart's lines with their prices, and the shipping details as submitted. */
export interface Order extends ShippingDetails {
  number: number;
  items: { productId: number; name: string; size: string; quantity: number; unitPrice: number }[];
  /** Cents, shipping included. */
  total: number;
}

export interface ShopState {
  catalogue: Product[];
  cart: CartLine[];
  orders: Order[];
}

export const CATEGORIES: Record<
  string,
  { label: string; noun: string; sizes: string[]; price: [number, number]; materials: string[] }
> = {
  shirt: {
    label: 'Shirts',
    noun: 'Shirt',
    sizes: ['S', 'M', 'L', 'XL'],
    price: [900, 6000],
    materials: ['Linen', 'Cotton', 'Oxford', 'Flannel', 'Poplin'],
  },
  tshirt: {
    label: 'T-shirts',
    noun: 'Tee',
    sizes: ['S', 'M', 'L', 'XL'],
    price: [500, 3000],
    materials: ['Cotton', 'Jersey', 'Organic', 'Slub', 'Pima'],
  },
  trousers: {
    label: 'Trousers',
    noun: 'Trousers',
    sizes: ['S', 'M', 'L', 'XL'],
    price: [1500, 8000],
    materials: ['Chino', 'Denim', 'Corduroy', 'Twill', 'Wool'],
  },
  jacket: {
    label: 'Jackets',
    noun: 'Jacket',
    sizes: ['S', 'M', 'L', 'XL'],
    price: [3000, 15000],
    materials: ['Rain', 'Denim', 'Quilted', 'Fleece', 'Bomber'],
  },
  dress: {
    label: 'Dresses',
    noun: 'Dress',
    sizes: ['S', 'M', 'L', 'XL'],
    price: [2000, 9000],
    materials: ['Wrap', 'Midi', 'Linen', 'Knit', 'Shirt'],
  },
  hoodie: {
    label: 'Hoodies',
    noun: 'Hoodie',
    sizes: ['S', 'M', 'L', 'XL'],
    price: [1800, 7000],
    materials: ['Fleece', 'Zip', 'Heavyweight', 'Terry', 'Cropped'],
  },
  shoes: {
    label: 'Shoes',
    noun: 'Sneakers',
    sizes: ['39', '40', '41', '42', '43', '44'],
    price: [2500, 12000],
    materials: ['Canvas', 'Leather', 'Suede', 'Running', 'Court'],
  },
  hat: {
    label: 'Hats',
    noun: 'Hat',
    sizes: ['One size'],
    price: [600, 4000],
    materials: ['Bucket', 'Wool', 'Straw', 'Baseball', 'Beanie'],
  },
  scarf: {
    label: 'Scarves',
    noun: 'Scarf',
    sizes: ['One size'],
    price: [700, 5000],
    materials: ['Silk', 'Wool', 'Cashmere', 'Knit', 'Check'],
  },
};

export const COLOURS = [
  'red',
  'blue',
  'green',
  'black',
  'white',
  'grey',
  'yellow',
  'pink',
  'purple',
  'orange',
  'brown',
  'navy',
];

export const BRANDS = [
  'Harbor',
  'Northwind',
  'Juniper',
  'Alder',
  'Meridian',
  'Sable',
  'Kestrel',
  'Fable',
  'Orchard',
  'Tamarack',
  'Lumen',
  'Quarry',
  'Wren',
  'Corvid',
  'Basalt',
  'Marlow',
];
const TRAITS = [
  'soft',
  'breathable',
  'durable',
  'lightweight',
  'warm',
  'water-resistant',
  'relaxed-fit',
  'slim-fit',
  'easy-care',
  'classic',
];

/** A catalogue of `count` products drawn from `rng`; names are unique. */
export function generateCatalogue(rng: Rng, count: number): Product[] {
  const products: Product[] = [];
  const names = new Set<string>();
  const categories = Object.keys(CATEGORIES);
  while (products.length < count) {
    const category = rng.pick(categories);
    const info = CATEGORIES[category]!;
    const name = `${rng.pick(BRANDS)} ${rng.pick(info.materials)} ${info.noun}`;
    if (names.has(name)) continue;
    names.add(name);
    products.push(makeProduct(rng, products.length + 1, name, category, rng.pick(COLOURS)));
  }
  return products;
}

/** One product with random price, rating and sizes (used by the generator and by tasks planting targets). */
export function makeProduct(
  rng: Rng,
  id: number,
  name: string,
  category: string,
  colour: string,
  overrides: Partial<Product> = {},
): Product {
  const info = CATEGORIES[category]!;
  const [low, high] = info.price;
  const price = Math.round(rng.int(low, high) / 50) * 50 - 1;
  const sizes = info.sizes.length === 1 ? info.sizes : info.sizes.filter(() => rng.chance(0.75));
  return {
    id,
    name,
    category,
    colour,
    price,
    rating: rng.int(10, 50) / 10,
    reviews: rng.int(0, 400),
    sizes: sizes.length > 0 ? sizes : [info.sizes[0]!],
    description: article(`${rng.pick(TRAITS)}, ${rng.pick(TRAITS)} ${info.noun.toLowerCase()} in ${colour}.`),
    ...overrides,
  };
}

function article(phrase: string): string {
  return `${/^[aeiou]/i.test(phrase) ? 'An' : 'A'} ${phrase}`;
}

/** `$18.99` from cents. */
export function formatPrice(cents: number): string {
  return `$${(cents / 100).toFixed(2)}`;
}

export const SHIPPING: Record<string, { label: string; price: number }> = {
  standard: { label: 'Standard (3-5 days)', price: 499 },
  express: { label: 'Express (next day)', price: 999 },
};

const PAGE_SIZE = 10;
const SITE_TITLE = 'Turngym Shop';

function header(state: ShopState): string {
  const count = state.cart.reduce((sum, line) => sum + line.quantity, 0);
  return (
    `<nav aria-label="Site"><a href="/">${SITE_TITLE}</a> <a href="/search">All products</a> <a href="/cart">Cart (${count})</a></nav>` +
    `<form action="/search" method="get" role="search"><input type="search" name="q" aria-label="Search products" placeholder="Search products"> <button type="submit">Search</button></form>`
  );
}

function page(state: ShopState, title: string, body: string): SiteResponse {
  return { html: layout(`${title} — ${SITE_TITLE}`, header(state), body) };
}

/** Products matching the search parameters (query words, filters), in the requested order. */
export function searchProducts(catalogue: readonly Product[], query: URLSearchParams): Product[] {
  const words = (query.get('q') ?? '').toLowerCase().split(/\s+/).filter(Boolean);
  const category = query.get('category') ?? '';
  const colour = query.get('colour') ?? '';
  const size = query.get('size') ?? '';
  const maxPrice = Number.parseFloat(query.get('max_price') ?? '');
  const minRating = Number.parseFloat(query.get('min_rating') ?? '');
  const matches = catalogue.filter((product) => {
    const text =
      `${product.name} ${CATEGORIES[product.category]!.label} ${product.colour} ${product.description}`.toLowerCase();
    if (!words.every((word) => text.includes(word))) return false;
    if (category && product.category !== category) return false;
    if (colour && product.colour !== colour) return false;
    if (size && !product.sizes.includes(size)) return false;
    if (Number.isFinite(maxPrice) && product.price > Math.round(maxPrice * 100)) return false;
    if (Number.isFinite(minRating) && product.rating < minRating) return false;
    return true;
  });
  const sort = query.get('sort') ?? '';
  if (sort === 'price-asc') matches.sort((a, b) => a.price - b.price || a.id - b.id);
  else if (sort === 'price-desc') matches.sort((a, b) => b.price - a.price || a.id - b.id);
  else if (sort === 'rating') matches.sort((a, b) => b.rating - a.rating || a.id - b.id);
  return matches;
}

function options(values: readonly [string, string][], selected: string): string {
  return values
    .map(
      ([value, label]) =>
        `<option value="${escapeHtml(value)}"${value === selected ? ' selected' : ''}>${escapeHtml(label)}</option>`,
    )
    .join('');
}

function searchPage(state: ShopState, query: URLSearchParams): SiteResponse {
  const results = searchProducts(state.catalogue, query);
  const pages = Math.max(1, Math.ceil(results.length / PAGE_SIZE));
  const pageNumber = Math.min(pages, Math.max(1, Number.parseInt(query.get('page') ?? '1', 10) || 1));
  const shown = results.slice((pageNumber - 1) * PAGE_SIZE, pageNumber * PAGE_SIZE);
  const allSizes = [...new Set(Object.values(CATEGORIES).flatMap((c) => c.sizes))];
  const value = (key: string) => escapeHtml(query.get(key) ?? '');
  const filters =
    `<form action="/search" method="get" aria-label="Filters" class="card">` +
    `<label>Keywords <input type="text" name="q" value="${value('q')}"></label>` +
    `<label>Category <select name="category">${options([['', 'Any category'], ...Object.entries(CATEGORIES).map(([key, c]) => [key, c.label] as [string, string])], query.get('category') ?? '')}</select></label>` +
    `<label>Colour <select name="colour">${options([['', 'Any colour'], ...COLOURS.map((c) => [c, c] as [string, string])], query.get('colour') ?? '')}</select></label>` +
    `<label>Size <select name="size">${options([['', 'Any size'], ...allSizes.map((s) => [s, s] as [string, string])], query.get('size') ?? '')}</select></label>` +
    `<label>Max price ($) <input type="number" name="max_price" min="0" step="0.01" value="${value('max_price')}"></label>` +
    `<label>Min rating <select name="min_rating">${options(
      [
        ['', 'Any rating'],
        ['2', '2 stars & up'],
        ['3', '3 stars & up'],
        ['4', '4 stars & up'],
        ['4.5', '4.5 stars & up'],
      ],
      query.get('min_rating') ?? '',
    )}</select></label>` +
    `<label>Sort by <select name="sort">${options(
      [
        ['', 'Relevance'],
        ['price-asc', 'Price: low to high'],
        ['price-desc', 'Price: high to low'],
        ['rating', 'Rating'],
      ],
      query.get('sort') ?? '',
    )}</select></label>` +
    `<button type="submit">Apply filters</button></form>`;
  const list = shown.length
    ? `<ul aria-label="Results">${shown
        .map(
          (p) =>
            `<li><a href="/product/${p.id}">${escapeHtml(p.name)}</a> <span>${formatPrice(p.price)} · ${p.colour} · ${p.rating.toFixed(1)} stars</span></li>`,
        )
        .join('')}</ul>`
    : '<p>No products match. Try fewer filters.</p>';
  const link = (n: number, label: string) => {
    const next = new URLSearchParams(query);
    next.set('page', String(n));
    return `<a href="/search?${escapeHtml(next.toString())}">${label}</a>`;
  };
  const pager = `<p>Page ${pageNumber} of ${pages} (${results.length} product${results.length === 1 ? '' : 's'}) ${pageNumber > 1 ? link(pageNumber - 1, 'Previous page') : ''} ${pageNumber < pages ? link(pageNumber + 1, 'Next page') : ''}</p>`;
  return page(state, 'Search', `<h1>Products</h1>${filters}<h2>Results</h2>${list}${pager}`);
}

function productPage(state: ShopState, product: Product): SiteResponse {
  const category = CATEGORIES[product.category]!;
  const sizeField =
    product.sizes.length === 1
      ? `<input type="hidden" name="size" value="${escapeHtml(product.sizes[0]!)}"><p>Size: ${escapeHtml(product.sizes[0]!)}</p>`
      : `<label>Size <select name="size" required>${options([['', 'Choose a size'], ...product.sizes.map((s) => [s, s] as [string, string])], '')}</select></label>`;
  const body =
    `<p><a href="/search?category=${product.category}">${category.label}</a></p>` +
    `<h1>${escapeHtml(product.name)}</h1>` +
    `<p>Price: ${formatPrice(product.price)}</p><p>Colour: ${product.colour}</p>` +
    `<p>Rating: ${product.rating.toFixed(1)} out of 5 (${product.reviews} reviews)</p>` +
    `<p>Sizes in stock: ${product.sizes.join(', ')}</p><p>${escapeHtml(product.description)}</p>` +
    `<form action="/cart/add" method="post" class="card"><input type="hidden" name="product" value="${product.id}">${sizeField}` +
    `<label>Quantity <input type="number" name="quantity" value="1" min="1" max="10" required></label>` +
    `<button type="submit">Add to cart</button></form>`;
  return page(state, product.name, body);
}

function cartPage(state: ShopState, message = ''): SiteResponse {
  const byId = new Map(state.catalogue.map((p) => [p.id, p]));
  if (state.cart.length === 0) {
    return page(
      state,
      'Cart',
      `<h1>Your cart</h1>${message}<p>Your cart is empty.</p><p><a href="/search">Continue shopping</a></p>`,
    );
  }
  const lines = state.cart
    .map((line, index) => {
      const product = byId.get(line.productId)!;
      return (
        `<li>${escapeHtml(product.name)} · size ${escapeHtml(line.size)} · qty ${line.quantity} · ${formatPrice(product.price * line.quantity)} ` +
        `<form action="/cart/remove" method="post" style="display:inline"><input type="hidden" name="line" value="${index}"><button type="submit" aria-label="Remove ${escapeHtml(product.name)} (${escapeHtml(line.size)})">Remove</button></form></li>`
      );
    })
    .join('');
  const total = state.cart.reduce((sum, line) => sum + byId.get(line.productId)!.price * line.quantity, 0);
  return page(
    state,
    'Cart',
    `<h1>Your cart</h1>${message}<ul aria-label="Cart items">${lines}</ul><p>Subtotal: ${formatPrice(total)}</p>` +
      `<p><a href="/checkout">Proceed to checkout</a> <a href="/search">Continue shopping</a></p>`,
  );
}

/** Checkout fields and how the server validates them (the form also asks the browser to check some). */
const CHECKOUT_FIELDS: {
  name: keyof Order & string;
  label: string;
  type: string;
  check: (value: string) => string | undefined;
}[] = [
  { name: 'name', label: 'Full name', type: 'text', check: (v) => (v.trim() ? undefined : 'Enter your full name.') },
  {
    name: 'email',
    label: 'Email',
    type: 'email',
    check: (v) =>
      /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(v.trim()) ? undefined : 'Enter a valid email address, like name@example.com.',
  },
  {
    name: 'address',
    label: 'Street address',
    type: 'text',
    check: (v) => (v.trim() ? undefined : 'Enter your street address.'),
  },
  { name: 'city', label: 'City', type: 'text', check: (v) => (v.trim() ? undefined : 'Enter your city.') },
  {
    name: 'postcode',
    label: 'Postcode',
    type: 'text',
    check: (v) => (/^\d{5}$/.test(v.trim()) ? undefined : 'The postcode must be exactly 5 digits.'),
  },
];

function checkoutPage(state: ShopState, form: URLSearchParams, errors: Record<string, string>): SiteResponse {
  if (state.cart.length === 0) return cartPage(state);
  const fields = CHECKOUT_FIELDS.map((field) => {
    const error = errors[field.name];
    return (
      `<label>${field.label} <input type="${field.type}" name="${field.name}" value="${escapeHtml(form.get(field.name) ?? '')}" required${error ? ' aria-invalid="true"' : ''}></label>` +
      (error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : '')
    );
  }).join('');
  const chosen = form.get('shipping') ?? 'standard';
  const shipping =
    `<fieldset><legend>Shipping</legend>${Object.entries(SHIPPING)
      .map(
        ([key, s]) =>
          `<label><input type="radio" name="shipping" value="${key}"${key === chosen ? ' checked' : ''}> ${s.label}, ${formatPrice(s.price)}</label>`,
      )
      .join('')}</fieldset>` +
    (errors.shipping ? `<p class="error" role="alert">${escapeHtml(errors.shipping)}</p>` : '');
  const summary = errors.form ? `<p class="error" role="alert">${escapeHtml(errors.form)}</p>` : '';
  // A third-party payment script that the confined network blocks (counted in info.blocked_requests).
  const body =
    `<h1>Checkout</h1>${summary}<form action="/checkout" method="post" class="card" aria-label="Checkout">${fields}${shipping}<button type="submit">Place order</button></form>` +
    `<script src="https://payments.example.com/sdk.js"></script>`;
  return page(state, 'Checkout', body);
}

function placeOrder(state: ShopState, form: URLSearchParams): SiteResponse {
  const errors: Record<string, string> = {};
  for (const field of CHECKOUT_FIELDS) {
    const error = field.check(form.get(field.name) ?? '');
    if (error) errors[field.name] = error;
  }
  const shipping = form.get('shipping') ?? '';
  if (!SHIPPING[shipping]) errors.shipping = 'Choose a shipping option.';
  if (Object.keys(errors).length > 0) {
    errors.form = `Please correct ${Object.keys(errors).length === 1 ? 'the field' : `the ${Object.keys(errors).length} fields`} below.`;
    return { ...(checkoutPage(state, form, errors) as { html: string }), status: 422 };
  }
  const byId = new Map(state.catalogue.map((p) => [p.id, p]));
  const items = state.cart.map((line) => {
    const product = byId.get(line.productId)!;
    return {
      productId: product.id,
      name: product.name,
      size: line.size,
      quantity: line.quantity,
      unitPrice: product.price,
    };
  });
  const order: Order = {
    number: 1001 + state.orders.length,
    items,
    name: form.get('name')!.trim(),
    email: form.get('email')!.trim(),
    address: form.get('address')!.trim(),
    city: form.get('city')!.trim(),
    postcode: form.get('postcode')!.trim(),
    shipping,
    total: items.reduce((sum, item) => sum + item.unitPrice * item.quantity, 0) + SHIPPING[shipping]!.price,
  };
  state.orders.push(order);
  state.cart = [];
  return { redirect: `/order/${order.number}` };
}

export const shopSite: Site<ShopState> = {
  name: 'shop',
  defaultState: () => ({ catalogue: generateCatalogue(Rng.fromSeed(0), 120), cart: [], orders: [] }),
  handle(request: SiteRequest, state: ShopState): SiteResponse {
    const { method, path } = request;
    if (path === '/' && method === 'GET') {
      const categories = Object.entries(CATEGORIES)
        .map(([key, c]) => `<li><a href="/search?category=${key}">${c.label}</a></li>`)
        .join('');
      return page(
        state,
        'Home',
        `<h1>Welcome to the ${SITE_TITLE}</h1><p>${state.catalogue.length} products in stock.</p><h2>Categories</h2><ul aria-label="Categories">${categories}</ul>`,
      );
    }
    if (path === '/search' && method === 'GET') return searchPage(state, request.query);
    const productMatch = /^\/product\/(\d+)$/.exec(path);
    if (productMatch && method === 'GET') {
      const product = state.catalogue.find((p) => p.id === Number(productMatch[1]));
      return product ? productPage(state, product) : notFound(SITE_TITLE, header(state), path);
    }
    if (path === '/cart' && method === 'GET') return cartPage(state);
    if (path === '/cart/add' && method === 'POST') {
      const product = state.catalogue.find((p) => p.id === Number(request.form.get('product')));
      const size = request.form.get('size') ?? '';
      const quantity = Number.parseInt(request.form.get('quantity') ?? '1', 10);
      if (!product) return notFound(SITE_TITLE, header(state), path);
      if (!product.sizes.includes(size)) return { ...(productPage(state, product) as { html: string }), status: 422 };
      if (!Number.isInteger(quantity) || quantity < 1 || quantity > 10)
        return { ...(productPage(state, product) as { html: string }), status: 422 };
      const existing = state.cart.find((line) => line.productId === product.id && line.size === size);
      if (existing) existing.quantity = Math.min(10, existing.quantity + quantity);
      else state.cart.push({ productId: product.id, size, quantity });
      return { redirect: '/cart' };
    }
    if (path === '/cart/remove' && method === 'POST') {
      const index = Number(request.form.get('line'));
      if (Number.isInteger(index) && index >= 0 && index < state.cart.length) state.cart.splice(index, 1);
      return { redirect: '/cart' };
    }
    if (path === '/checkout' && method === 'GET') return checkoutPage(state, new URLSearchParams(), {});
    if (path === '/checkout' && method === 'POST') return placeOrder(state, request.form);
    const orderMatch = /^\/order\/(\d+)$/.exec(path);
    if (orderMatch && method === 'GET') {
      const order = state.orders.find((o) => o.number === Number(orderMatch[1]));
      if (!order) return notFound(SITE_TITLE, header(state), path);
      const items = order.items
        .map((i) => `<li>${escapeHtml(i.name)} · size ${escapeHtml(i.size)} · qty ${i.quantity}</li>`)
        .join('');
      return page(
        state,
        `Order ${order.number}`,
        `<h1>Thank you, your order is placed</h1><p>Order number ${order.number}. Total ${formatPrice(order.total)}, shipping ${SHIPPING[order.shipping]!.label} to ${escapeHtml(order.city)}.</p><ul aria-label="Ordered items">${items}</ul>`,
      );
    }
    return notFound(SITE_TITLE, header(state), path);
  },
};
