using Cinnabar.Server.Network;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>The first set command (SADD); the full family arrives with step 2.</summary>
public static class CollectionCommands
{
    public static void Register(CommandTable t)
    {
        t.Register("sadd", SAdd);
    }

    static void SAdd(Client c)
    {
        var key = c.Arg(1);
        var v = Keyspace.LookupWrite(c, key);
        if (v != null && v is not SetValue) { c.WrongType(); return; }
        var set = (SetValue)v;
        long before = set?.Cost ?? 0;
        if (set == null)
        {
            set = new SetValue();
            c.Db.Add(c.ArgBytes(1), set);
            before = set.Cost;
        }
        long added = 0;
        for (int i = 2; i < c.ArgCount; i++)
            if (set.Members.Add(c.ArgBytes(i))) added++;
        c.Db.Resized(before, set);
        if (added > 0) Keyspace.Modified(c, key);
        c.Reply.Integer(added);
    }
}
