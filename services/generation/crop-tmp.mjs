import sharp from 'sharp';
const [f, out, step = '1500'] = process.argv.slice(2);
const m = await sharp(f).metadata();
const h = Number(step);
for (let top = 0, i = 0; top < m.height; top += h, i++) {
  await sharp(f).extract({ left: 0, top, width: m.width, height: Math.min(h, m.height - top) }).toFile(`${out}-${i}.png`);
  console.log(`${out}-${i}.png`);
}
