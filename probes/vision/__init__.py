"""Images: `headers` (type and size from the header, the one parser), `imaging` (OpenCV scoring of snapshots),
`thumbnails` (crew photos: sniff, strip EXIF, thumbnail), `plate_reader` (optional rapidocr plate text)."""
