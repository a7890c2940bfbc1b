/**
 * The cached value: a ~1 KB JSON object shaped like a typical cache-aside payload (a record with a
 * nested list), so JSON encode/decode cost is realistic rather than that of a flat string.
 * @module
 */

export interface Booking {
  id: string
  title: string
  owner: string
  start: string
  end: string
  attendees: number
}

export interface Room {
  id: string
  name: string
  building: string
  floor: number
  capacity: number
  features: string[]
  active: boolean
  updatedAt: string
  bookings: Booking[]
}

export function makeRoom(): Room {
  return {
    id: 'room-0042',
    name: 'Design review (north wing)',
    building: 'North',
    floor: 3,
    capacity: 12,
    features: ['projector', 'whiteboard', 'video-conference', 'phone'],
    active: true,
    updatedAt: '2025-01-06T08:30:00.000Z',
    bookings: Array.from({ length: 5 }, (_, i) => ({
      id: `booking-${1000 + i}`,
      title: 'Weekly planning sync',
      owner: `user${100 + i}@example.com`,
      start: `2025-01-0${i + 1}T09:00:00.000Z`,
      end: `2025-01-0${i + 1}T10:00:00.000Z`,
      attendees: 4 + i,
    })),
  }
}
