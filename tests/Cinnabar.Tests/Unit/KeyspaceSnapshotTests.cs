using System.Text;
using Cinnabar.Server.Storage;
using Xunit;

namespace Cinnabar.Tests.Unit;

/// <summary>
/// The key-by-key copy-on-write snapshot: whatever the keyspace goes through while the snapshot is taken in
/// slices (in-place changes, overwrites, deletes, new keys, table growth, FLUSHDB, SWAPDB), the sink must get
/// exactly the keys and values of the moment it started, each once.
/// </summary>
public sealed class KeyspaceSnapshotTests
{
    sealed class NoEvents : IKeyspaceEvents
    {
        public void KeyExpired(Db db, byte[] key) { }
        public void KeyAdded(Db db, byte[] key) { }
        public void KeyModified(Db db, ReadOnlySpan<byte> key) { }
    }

    sealed class CopyingSink : KeyspaceSnapshot.ISink
    {
        public readonly Dictionary<(int, string), (string value, long expire)> Saved = new();

        public void Save(int dbId, in KeyTable.Entry entry)
        {
            // A real sink serializes on the spot; copying the bytes stands for that.
            var k = (dbId, Encoding.Latin1.GetString(entry.Key));
            Assert.True(Saved.TryAdd(k, (Encoding.Latin1.GetString((byte[])entry.Value), entry.ExpireAt)), $"key {k} saved twice");
        }
    }

    static Dictionary<(int, string), (string, long)> Contents(Db[] dbs)
    {
        var all = new Dictionary<(int, string), (string, long)>();
        foreach (var db in dbs)
            for (int i = 0; i < db.Table.Used; i++)
            {
                ref var e = ref db.Table.At(i);
                if (e.Key != null) all[(db.Id, Encoding.Latin1.GetString(e.Key))] = (Encoding.Latin1.GetString((byte[])e.Value), e.ExpireAt);
            }
        return all;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void SinkGetsTheKeyspaceAsItWasAtTheStart(int seed)
    {
        var r = new Random(seed);
        var events = new NoEvents();
        var dbs = Enumerable.Range(0, 4).Select(i => new Db(i, events) { ExpiryEnabled = false }).ToArray();
        for (int round = 0; round < 3; round++)   // several snapshots in a row: the marks must flip back each time
        {
            for (int i = 0; i < 2000; i++)
            {
                var db = dbs[r.Next(dbs.Length)];
                int idx = db.Set(Encoding.ASCII.GetBytes($"k{r.Next(3000)}"), Encoding.ASCII.GetBytes($"v{r.Next()}"));
                if (r.Next(4) == 0) db.SetExpire(idx, 1_000_000 + r.Next(1000));
            }
            var expected = Contents(dbs);
            var sink = new CopyingSink();
            var snapshot = new KeyspaceSnapshot(dbs, sink);
            bool abort = round == 1 && seed % 2 == 0;
            int steps = 0;
            while (!snapshot.Step(r.Next(1, 40)))
            {
                if (abort && ++steps == 20) { snapshot.Abort(); break; }
                for (int n = r.Next(0, 30); n > 0; n--) Mutate(r, dbs);
            }
            if (abort) continue;
            Assert.Equal(expected.Count, sink.Saved.Count);
            foreach (var (k, v) in expected) Assert.Equal(v, sink.Saved[k]);
            Assert.All(dbs, db => Assert.Null(db.Table.Snapshot));
        }
    }

    static void Mutate(Random r, Db[] dbs)
    {
        var db = dbs[r.Next(dbs.Length)];
        var key = Encoding.ASCII.GetBytes($"k{r.Next(4000)}");
        switch (r.Next(100))
        {
            case < 35:   // a write in place, as SETRANGE or an HSET on a collection would do
                if (db.Get(key) is byte[] b && b.Length > 0) b[0] ^= 0x20;
                break;
            case < 60:
                db.Set(key, Encoding.ASCII.GetBytes($"new{r.Next()}"));
                break;
            case < 80:
                db.Delete(key);
                break;
            case < 90:
                int i = db.Find(key);
                if (i >= 0) db.SetExpire(i, r.Next(2) == 0 ? 0 : 5_000_000);
                break;
            case < 95:
                for (int n = 0; n < 300; n++) db.Set(Encoding.ASCII.GetBytes($"grow{r.Next()}"), new byte[] { 1 });
                break;
            case < 98:
                var other = dbs[r.Next(dbs.Length)];
                if (other != db) db.SwapWith(other);
                break;
            default:
                db.Clear();
                break;
        }
    }
}
